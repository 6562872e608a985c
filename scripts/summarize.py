"""Print one closing line that counts every test of a run, from the JUnit files it wrote.

Failed tests are named first, one line each, so that a CI log cut down to its tail still says
what failed.

Usage: python scripts/summarize.py LABEL DIR   ->   "LABEL: 57 passed, 0 failed, 2 skipped"
"""

import pathlib
import sys
import xml.etree.ElementTree as ET


def count(directory: pathlib.Path) -> tuple[int, list[str], int]:
    passed = skipped = 0
    failed: list[str] = []
    for path in sorted(directory.rglob("*.xml")):
        root = ET.parse(path).getroot()
        for case in root.iter("testcase"):
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            if problem is not None:
                message = (problem.get("message") or problem.text or "").strip().splitlines()
                where = f"{path.parent.name}: {case.get('classname')} {case.get('name')}"
                failed.append(f"{where}: {message[0][:200] if message else 'no message'}")
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    return passed, failed, skipped


if __name__ == "__main__":
    label, directory = sys.argv[1], pathlib.Path(sys.argv[2])
    passed, failed, skipped = count(directory)
    for line in failed:
        print(f"failed: {line}")
    print(f"{label}: {passed} passed, {len(failed)} failed, {skipped} skipped")
    sys.exit(1 if failed or not passed else 0)
