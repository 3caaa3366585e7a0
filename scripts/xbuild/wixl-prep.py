"""WiX 3 source -> what wixl (msitools 0.101) builds, plus the SQL for what it cannot.

wixl has no Component/Condition, no Property/@Secure, no Shortcut/ShortcutProperty and no
CustomAction that runs a command in a directory (Directory with ExeCommand).
This removes them from the source (stdout) and writes SQL (to the file given as the second
argument) that scripts/package-msi runs on the built package with msibuild: each
component's condition into the Component table, the Secure properties into
SecureCustomProperties (the list Windows Installer passes from the client to the elevated
install; Windows Installer SDK, "SecureCustomProperties property"), shortcut
properties into the MsiShortcutProperty table (Windows Installer 5), and the command
custom actions into the CustomAction table (type 34 with the "Custom Action In-Script
Execution Options" and return-processing bits). The .wxs stays plain
WiX 3.
usage: wixl-prep.py SOURCE.wxs OUT.sql > for-wixl.wxs
"""
import sys
import xml.etree.ElementTree as ET

NS = "http://schemas.microsoft.com/wix/2006/wi"
ET.register_namespace("", NS)


def sql_text(s):
    # MSI SQL string literals are in single quotes; the conditions here have none.
    if "'" in s:
        sys.exit(f"wixl-prep: a quote in {s!r}")
    return s


def main():
    src, out_sql = sys.argv[1], sys.argv[2]
    tree = ET.parse(src)
    queries, secure = [], []
    for comp in tree.iter(f"{{{NS}}}Component"):
        for cond in comp.findall(f"{{{NS}}}Condition"):
            text = " ".join((cond.text or "").split())
            queries.append(
                f"UPDATE `Component` SET `Condition` = '{sql_text(text)}' "
                f"WHERE `Component` = '{comp.get('Id')}'"
            )
            comp.remove(cond)
    for parent in list(tree.iter()):
        for prop in parent.findall(f"{{{NS}}}Property"):
            if prop.attrib.pop("Secure", None) == "yes":
                secure.append(prop.get("Id"))
            # A property without a value is only declared (to be Secure); the Property
            # table has no row for it (its Value column may not be null).
            if prop.get("Value") is None and len(prop) == 0:
                parent.remove(prop)
    for parent in list(tree.iter()):
        for ca in parent.findall(f"{{{NS}}}CustomAction"):
            if ca.get("ExeCommand") is None or ca.get("Directory") is None:
                continue
            kind = 34  # msidbCustomActionTypeExe + msidbCustomActionTypeDirectory
            if ca.get("Return") == "ignore":
                kind |= 0x40  # msidbCustomActionTypeContinue
            if ca.get("Execute") == "deferred":
                kind |= 0x400  # msidbCustomActionTypeInScript
                if ca.get("Impersonate") == "no":
                    kind |= 0x800  # msidbCustomActionTypeNoImpersonate
            queries.append(
                "INSERT INTO `CustomAction` (`Action`, `Type`, `Source`, `Target`) VALUES "
                f"('{ca.get('Id')}', {kind}, '{ca.get('Directory')}', "
                f"'{sql_text(ca.get('ExeCommand'))}')"
            )
            parent.remove(ca)
    shortcut_props = []
    for sc in tree.iter(f"{{{NS}}}Shortcut"):
        for sp in sc.findall(f"{{{NS}}}ShortcutProperty"):
            shortcut_props.append((sc.get("Id"), sp.get("Key"), sp.get("Value")))
            sc.remove(sp)
    if shortcut_props:
        queries.append(
            "CREATE TABLE `MsiShortcutProperty` (`MsiShortcutProperty` CHAR(72) NOT NULL, "
            "`Shortcut_` CHAR(72) NOT NULL, `PropertyKey` CHAR(0) NOT NULL, "
            "`PropVariantValue` CHAR(0) NOT NULL PRIMARY KEY `MsiShortcutProperty`)"
        )
        for i, (sc, key, value) in enumerate(shortcut_props):
            queries.append(
                "INSERT INTO `MsiShortcutProperty` (`MsiShortcutProperty`, `Shortcut_`, "
                f"`PropertyKey`, `PropVariantValue`) VALUES ('ShortcutProperty{i}', "
                f"'{sql_text(sc)}', '{sql_text(key)}', '{sql_text(value)}')"
            )
    # wixl lists the upgrade properties itself; the new row replaces its own.
    for uv in tree.iter(f"{{{NS}}}UpgradeVersion"):
        secure.append(uv.get("Property"))
    if secure:
        queries.append("DELETE FROM `Property` WHERE `Property` = 'SecureCustomProperties'")
        queries.append(
            "INSERT INTO `Property` (`Property`, `Value`) "
            f"VALUES ('SecureCustomProperties', '{';'.join(secure)}')"
        )
    with open(out_sql, "w") as f:
        f.write("\n".join(queries) + "\n")
    tree.write(sys.stdout, encoding="unicode", xml_declaration=True)


main()
