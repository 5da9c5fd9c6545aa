"""Every pytest case as its own CTest test, while pytest itself runs once, on every core.

  ctest_cases.py list CASES_CMAKE          collect the cases; write one add_test() per case (ctest reads it)
  ctest_cases.py run JUNIT_XML             run the whole suite once (pytest-xdist, -n auto), outcomes to JUNIT_XML
  ctest_cases.py case JUNIT_XML NODE_ID    exit with NODE_ID's outcome in JUNIT_XML: 0 passed, 1 failed, 77 skipped

A pytest process per case would import matplotlib 377 times; this way `ctest --output-junit` and `ctest -R`
still see each case, and `run` is the CTest fixture that every case requires (plots/CMakeLists.txt).
"""
import os
import sys

# Each case test starts Python once: `python3 -I -S`, and importing subprocess and pathlib only where they are
# used, keep that near 30 ms (the case step needs only the XML parser).
PLOTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
SKIPPED = 77  # SKIP_RETURN_CODE of every case test
PREFIX = "plots."


def bracket(text: str) -> str:
    """A CMake bracket argument holding text verbatim."""
    if "]==]" in text:
        raise ValueError(f"a pytest id holds ']==]': {text}")
    return f"[==[{text}]==]"


def list_cases(out: str) -> int:
    import subprocess
    got = subprocess.run(PYTEST + ["--collect-only", "-q", "tests"], cwd=PLOTS, capture_output=True, text=True)
    ids = [line for line in got.stdout.splitlines() if "::" in line]
    if got.returncode != 0 or not ids:
        sys.stderr.write(got.stdout + got.stderr + "ctest_cases.py: pytest could not collect the plots tests\n")
        return 1
    lines = []
    for node in ids:
        if ";" in node:  # CTest splits lists on it: give the parametrized case an id without one
            sys.stderr.write(f"ctest_cases.py: a pytest id holds ';', which CTest cannot name: {node}\n")
            return 1
        name = bracket(PREFIX + node)
        lines.append(f"add_test({name} {bracket(sys.executable)} -I -S {bracket(__file__)} case "
                     f"${{conpar_pytest_junit}} {bracket(node)})")
        lines.append(f"set_tests_properties({name} PROPERTIES LABELS unit FIXTURES_REQUIRED plots "
                     f"SKIP_RETURN_CODE {SKIPPED} TIMEOUT 30)")
    with open(out + ".tmp", "w", encoding="utf-8") as tmp:
        tmp.write("\n".join(lines) + "\n")
    os.replace(out + ".tmp", out)
    return 0


def run(junit: str) -> int:
    import subprocess
    if os.path.exists(junit):
        os.remove(junit)  # a case must never read the outcome of an earlier run
    code = subprocess.run(PYTEST + ["-q", "-n", "auto", f"--junitxml={junit}", "tests"], cwd=PLOTS).returncode
    # 1: some cases failed, and their own tests say which; anything else is pytest itself failing.
    return 0 if code in (0, 1) and os.path.exists(junit) else (code or 1)


def junit_key(node: str) -> tuple[str, str]:
    """The (classname, name) pytest's JUnit XML gives node: tests/test_a.py::TestB::test_c[x] is
    ("tests.test_a.TestB", "test_c[x]")."""
    parts = node.split("::")
    path = parts[0][:-3] if parts[0].endswith(".py") else parts[0]
    return ".".join([path.replace("/", ".")] + parts[1:-1]), parts[-1]


def case(junit: str, node: str) -> int:
    import xml.etree.ElementTree as ET
    if not os.path.exists(junit):
        print(f"no outcome: {junit} is missing; the fixture test 'plots' did not run pytest")
        return 1
    key = junit_key(node)
    found = [tc for tc in ET.parse(junit).iter("testcase") if (tc.get("classname"), tc.get("name")) == key]
    if not found:
        print(f"no outcome for {node} in {junit}: was the case renamed after ctest listed it?")
        return 1
    failed = [child for tc in found for child in tc if child.tag in ("failure", "error")]
    for child in failed:
        print(child.get("message", ""), child.text or "", sep="\n")
    if failed:
        return 1
    return SKIPPED if any(child.tag == "skipped" for tc in found for child in tc) else 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "list":
        return list_cases(argv[1])
    if len(argv) == 2 and argv[0] == "run":
        return run(argv[1])
    if len(argv) == 3 and argv[0] == "case":
        return case(argv[1], argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
