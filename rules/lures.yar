/* Technical-error lures: body text that mass-mailing worms used to make a
 * recipient open the attachment, each phrase a family of wordings seen in
 * the wild (W32/Mydoom, W32/Mimail, W32/Sobig, W32/Netsky, W32/Bagle...).
 *
 * Lure text alone is weak evidence — genuine bounces and IT notices use some
 * of the same words — so each rule scores below the SUSPICIOUS threshold and
 * only counts with other signals (an executable, an archive, a forged sender).
 * Rules look only at decoded text parts (object_kind == "text"). */

rule Lure_Mail_Transaction_Failed : lure_text
{
    meta:
        description = "claims the message failed and the 'partial message' is attached (Mydoom)"
        score = 20
    strings:
        $a = "Mail transaction failed. Partial message is available" nocase
        $b = /mail transaction (has )?failed[.,;!]? *(the )?partial (message|copy|text) (is|has been) (available|attached)/ nocase
    condition:
        object_kind == "text" and any of them
}

rule Lure_Binary_Attachment_Encoding : lure_text
{
    meta:
        description = "claims the text was sent as a binary attachment because of its encoding (Mydoom)"
        score = 20
    strings:
        $unicode = /contains? unicode characters and ha(s|ve) been sent as (a )?binary attachment/ nocase
        $ascii7 = /cannot be represented in 7-?bit ascii encoding and ha(s|ve) been sent as (a )?binary attachment/ nocase
        $converted = /(message|text) (has been|was) (converted|encoded) (in|to|into) (binary|8-?bit|unicode) (format|attachment)/ nocase
    condition:
        object_kind == "text" and any of them
}

rule Lure_Delivery_Failure_Attachment : lure_text
{
    meta:
        description = "fake delivery failure pointing at the attachment (Mydoom, Mimail, Netsky)"
        score = 15
    strings:
        $a = /the original message (was|has been) (included|attached) as (an? )?attachment/ nocase
        $b = /(message|mail) could not be delivered[^\n]{0,80}see (the )?attach/ nocase
        $c = /server report[^\n]{0,60}(attached|attachment)/ nocase
        $d = /delivery (has )?failed[^\n]{0,60}(attached|attachment)/ nocase
    condition:
        object_kind == "text" and any of them
}

rule Lure_Read_Attached_Document : lure_text
{
    meta:
        description = "short imperative to open 'your document' or 'the attached file' (Sobig, Netsky, Bagle)"
        score = 10
    strings:
        $a = /please (read|see|check|open) the attached (file|document)( for details)?/ nocase
        $b = /your (document|file) is attached/ nocase
        $c = /see the attached file for (your )?details/ nocase
        $d = /(i have|i've) (attached|sent) (your|the) (document|file)/ nocase
    condition:
        object_kind == "text" and filesize < 2048 and any of them
}

rule Lure_Account_Expiry : lure_text
{
    meta:
        description = "claims the recipient's mail account expires or is disabled; details 'attached' (Mimail, Bagle)"
        score = 15
    strings:
        $a = /(e-?mail|your|this) (address|account) (will be|is about to be|has been|is going to be) (temporar(il)?y )?(expir(ed|ing)|disabled|suspended|closed|blocked|deactivated)/ nocase
        $b = /(e-?mail|your|this) (address|account) (will|is going to) (expire|be closed)/ nocase
        $att = /(read|see|open) (the )?attach(ment|ed file)/ nocase
    condition:
        object_kind == "text" and ($a or $b) and $att
}

rule Lure_Account_Details_Attached : lure_text
{
    meta:
        description = "says the recipient's account or password details are in the attachment (Sober, Mytob)"
        score = 15
    strings:
        $a = /(account|password|login|registration)( and password)? (information|info|data|details|confirmation)s? (is|are|has been|have been) attached/ nocase
        $b = /(password|account (information|details|data)) (is|are) in the attach/ nocase
    condition:
        object_kind == "text" and any of them
}
