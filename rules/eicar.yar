/* The EICAR anti-virus test file: a harmless 68-byte string every scanner
 * detects, so a gateway can be tested end to end without real malware.
 * The standard allows trailing whitespace after it, up to 128 bytes in all. */
rule EICAR_Test_File
{
    meta:
        description = "EICAR anti-virus test file"
        family = "EICAR-Test-File"
        aliases = "EICAR_Test_File, Eicar-Signature, EICAR-AV-Test"
        score = 100
    strings:
        $eicar = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    condition:
        $eicar at 0 and filesize <= 128 and object_kind != "headers"
}
