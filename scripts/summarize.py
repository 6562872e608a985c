"""Print one closing line that counts every test of a run, from the JUnit files it wrote.

Usage: python scripts/summarize.py LABEL DIR   ->   "LABEL: 57 passed, 0 failed, 2 skipped"
"""

import pathlib
import sys
import xml.etree.ElementTree as ET


def count(directory: pathlib.Path) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    for path in sorted(directory.rglob("*.xml")):
        root = ET.parse(path).getroot()
        for case in root.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


if __name__ == "__main__":
    label, directory = sys.argv[1], pathlib.Path(sys.argv[2])
    passed, failed, skipped = count(directory)
    print(f"{label}: {passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed or not passed else 0)
