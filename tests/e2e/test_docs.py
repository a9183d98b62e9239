"""The README's settings tables are the ones zerohourd, zerohour-milter and
zerohour-clamd print from their settings tables; this keeps the
documentation of limits from drifting."""
import subprocess
import unittest

from zhtest import binary, SRC


class DocsTest(unittest.TestCase):
    def test_settings_table_in_readme(self):
        table = subprocess.run([binary("zerohourd"), "--settings-markdown"], capture_output=True,
                               text=True, check=True).stdout
        with open(f"{SRC}/README.md", encoding="utf-8") as f:
            readme = f.read()
        self.assertIn(table, readme, "README.md's settings table differs from "
                      "`zerohourd --settings-markdown`; paste the new output into it")

    def test_client_settings_tables_in_readme(self):
        with open(f"{SRC}/README.md", encoding="utf-8") as f:
            readme = f.read()
        for prog in ("zerohour-milter", "zerohour-clamd"):
            table = subprocess.run([binary(prog), "--settings-markdown"], capture_output=True,
                                   text=True, check=True).stdout
            self.assertIn(table, readme, f"README.md's {prog} settings table differs from "
                          f"`{prog} --settings-markdown`; paste the new output into it")


if __name__ == "__main__":
    unittest.main(verbosity=2)
