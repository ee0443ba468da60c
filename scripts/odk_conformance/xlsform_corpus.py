"""Import a folder of real XLSForms (e.g. pyxform's own test workbooks) with ours and with pyxform, and count:
imported (unchanged / with warnings, i.e. changed with a word), refused (by error code and feature), crashed.

    .venv/bin/python scripts/odk_conformance/xlsform_corpus.py /work/scratch/pyxform-xls [-v]

pyxform's workbooks: `git archive HEAD tests/example_xls tests/bug_example_xls` of XLSForm/pyxform v4.5.0.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import traceback
from pathlib import Path

from forms.errors import FormDefinitionError
from forms.xlsform import SUPPORTED_SUFFIXES, read_xlsform


def pyxform_ok(path: Path) -> bool:
    from pyxform.xls2xform import convert

    try:
        convert(xlsform=str(path), validate=False)
    except Exception:
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES)
    outcome: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    warned: collections.Counter[str] = collections.Counter()
    crashed = []
    for path in files:
        theirs = pyxform_ok(path)
        try:
            result = read_xlsform(path)
        except FormDefinitionError as exc:
            outcome[f"refused (pyxform {'accepts' if theirs else 'refuses too'})"] += 1
            for e in exc.errors:
                params = dict(e.params)
                detail = params.get("feature") or params.get("type") or params.get("key") or ""
                refused[f"{e.code}: {detail}"[:90]] += 1
            if args.verbose:
                print(f"REFUSED {path.name}: {exc.errors[0]}")
            continue
        except Exception:
            crashed.append(path)
            outcome["crashed"] += 1
            if args.verbose:
                traceback.print_exc()
            continue
        if result.warnings:
            outcome["imported with warnings (changed, said)"] += 1
            for w in result.warnings:
                warned[re.sub(r"^.*?: ", "", w.split(" / ")[-1])[:70]] += 1
        else:
            outcome["imported unchanged"] += 1
    print(f"{len(files)} XLSForms in {args.folder}")
    for k, v in outcome.most_common():
        print(f"  {v:4d}  {k}")
    print("refusals by error (a file may have several):")
    for k, v in refused.most_common():
        print(f"  {v:4d}  {k}")
    print("warnings:")
    for k, v in warned.most_common(15):
        print(f"  {v:4d}  {k}")
    for p in crashed:
        print(f"CRASHED: {p}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
