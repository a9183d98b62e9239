/* Office Open XML documents that fetch their active part from the internet
 * when opened, so the mailed file itself holds no macro for a scanner to
 * find (MITRE ATT&CK T1221 "Template Injection"; CVE-2017-0199; CVE-2022-30190
 * "Follina"). The link is a Relationship in a package part's .rels member:
 *
 *   <Relationship Type=".../relationships/attachedTemplate"
 *                 Target="http://host/x.dotm" TargetMode="External"/>
 *
 * Word fetches and runs the template (with its macros) on opening; an
 * external oleObject relationship makes Word fetch an HTA/RTF (0199) or an
 * ms-msdt: page through mhtml: (Follina). Delivered this way by Formbook,
 * Agent Tesla, Gamaredon, APT28 and others (public reports 2017-2024).
 *
 * A template on a company server is ordinary: a document written from a
 * SharePoint or file-share template keeps an https:// or \\server link to
 * it. So an external template alone scores below MALICIOUS; the shapes no
 * genuine template has — a bare IP address, plain http to a file that is
 * not a template, a template reached over mhtml:/file:// tricks, an
 * external OLE object — are MALICIOUS. Rules read only the .rels members of
 * unpacked documents (object_kind == "member"). */

rule Office_External_Template : office_external
{
    meta:
        description = "OOXML document that loads its template from the internet when opened (T1221)"
        score = 45
    strings:
        $type = "/relationships/attachedTemplate" nocase
        $ext = /TargetMode\s*=\s*["']External["']/ nocase
        $web = /Target\s*=\s*["'](https?|ftp):\/\// nocase
    condition:
        object_kind == "member" and extension == "rels" and filesize < 65536 and
        $type and $ext and $web
}

rule Office_External_Template_Suspect_Target : office_external
{
    meta:
        description = "OOXML template link to a bare IP address, to a file that is no template, or through mhtml:"
        family = "Office.TemplateInjection"
        score = 90
    strings:
        $type = "/relationships/attachedTemplate" nocase
        $ext = /TargetMode\s*=\s*["']External["']/ nocase
        $ip = /Target\s*=\s*["'](https?|ftp):\/\/(\[[0-9a-f:]+\]|[0-9]{1,3}(\.[0-9]{1,3}){3})[:\/"']/ nocase
        $notdot = /Target\s*=\s*["']https?:\/\/[^"']{1,512}\.(exe|dll|hta|rtf|doc|docx|docm|xls|xlsm|jpg|png|gif|txt|php|aspx?|js|vbs|bin|dat|zip)(\?[^"']{0,200})?["']/ nocase
        $mhtml = /Target\s*=\s*["'](mhtml|ms-msdt|search-ms|ms-word):/ nocase
    condition:
        object_kind == "member" and extension == "rels" and filesize < 65536 and
        $type and $ext and ($ip or $notdot or $mhtml)
}

rule Office_External_OLE_Object : office_external
{
    meta:
        description = "OOXML document with an OLE object fetched from the internet when opened (CVE-2017-0199, CVE-2022-30190 Follina)"
        family = "Office.ExternalOLE"
        score = 90
    strings:
        $type = "/relationships/oleObject" nocase
        $ext = /TargetMode\s*=\s*["']External["']/ nocase
        $web = /Target\s*=\s*["'](https?|ftp|mhtml|ms-msdt):/ nocase
    condition:
        object_kind == "member" and extension == "rels" and filesize < 65536 and
        $type and $ext and $web
}
