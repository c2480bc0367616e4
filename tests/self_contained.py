#!/usr/bin/env python3
"""The repository stands on its own: no tracked file may refer to a path outside the repository root.

Every relative path that climbs (`../`) in a tracked text file is resolved against the places it
could be meant from: the file's own folder, the nearest package root above it (Cargo.toml or
package.json: `CARGO_MANIFEST_DIR`, npm scripts) and the repository root (scripts `cd` there).
It fails when every reading leaves the repository, or when the path names something that does
not exist in it (build outputs such as `target/` excepted). Third-party data under
`tests/fixtures/` is not scanned.

Usage: python3 tests/self_contained.py [ROOT]      (exit 1 and a list of offenders when it fails)
       python3 tests/self_contained.py --self-test (checks that the guard itself catches a bad path)
"""

import os
import re
import subprocess
import sys
import tempfile

# A relative path that climbs: one or more `../`, then the rest of a path.
CLIMB = re.compile(r"(?<![\w.])((?:\.\./)+)([A-Za-z0-9_.\-/*{}$]*)")
# Explicit names of the reference folder that sits beside the repository during development.
BESIDE = re.compile(r"\.\./shared/(fixtures|design)|\.\./design/[A-Z]+\.md")
# Generated or installed folders a path may point into without them being tracked.
GENERATED = {"target", "node_modules", "cdk.out", ".venv", ".aws-sam"}
SKIP_PREFIXES = ("tests/fixtures/",)
SKIP_FILES = {"Cargo.lock", "tests/self_contained.py"}


def tracked_files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "-z"], check=True, capture_output=True
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def package_root(root, rel_dir):
    parts = rel_dir.split("/") if rel_dir else []
    while parts:
        here = "/".join(parts)
        if any(os.path.isfile(os.path.join(root, here, f)) for f in ("Cargo.toml", "package.json")):
            return here
        parts.pop()
    return ""


def resolve(base, climb, rest):
    """The repository-relative path, or None when it climbs above the root."""
    parts = base.split("/") if base else []
    for _ in range(climb.count("../")):
        if not parts:
            return None
        parts.pop()
    for piece in rest.split("/"):
        if piece in ("", "."):
            continue
        if piece == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(piece)
    return "/".join(parts)


def exists_or_generated(root, rel, rest, tracked_dirs, tracked):
    if any(c in rest for c in "*{}$") or not rest.strip("/"):
        return True
    head = rel.split("/")[0] if rel else ""
    if head in GENERATED:
        return True
    # Module imports name files without their extension (`import ... from "../lib/stack"`).
    for candidate in (rel, rel + ".ts", rel + ".js", rel + ".rs", rel + ".py"):
        if candidate in tracked or candidate in tracked_dirs:
            return True
    return os.path.exists(os.path.join(root, rel))


def check(root):
    files = tracked_files(root)
    tracked = set(files)
    tracked_dirs = set()
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            tracked_dirs.add("/".join(parts[:i]))
    problems = []
    for rel in files:
        if rel in SKIP_FILES or rel.startswith(SKIP_PREFIXES):
            continue
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (UnicodeDecodeError, OSError):
            continue
        rel_dir = os.path.dirname(rel)
        bases = [rel_dir, package_root(root, rel_dir), ""]
        for number, line in enumerate(text.splitlines(), 1):
            if BESIDE.search(line):
                problems.append(f"{rel}:{number}: names the folder beside the repository: {line.strip()}")
                continue
            for match in CLIMB.finditer(line):
                climb, rest = match.group(1), match.group(2).rstrip(".")
                readings = [resolve(b, climb, rest) for b in bases]
                inside = [r for r in readings if r is not None]
                if not inside:
                    problems.append(f"{rel}:{number}: `{climb}{rest}` leaves the repository: {line.strip()}")
                elif not any(exists_or_generated(root, r, rest, tracked_dirs, tracked) for r in inside):
                    problems.append(
                        f"{rel}:{number}: `{climb}{rest}` names nothing in the repository: {line.strip()}"
                    )
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        repo = os.path.join(tmp, "repo")
        os.makedirs(os.path.join(repo, "crate/src"))
        # The outside folder's name is assembled here, so this file itself never names it.
        outside = "../" + "shared"
        files = {
            "crate/Cargo.toml": "[package]\n",
            "crate/src/ok.rs": 'include_str!("../Cargo.toml");\n',
            "crate/src/bad.rs": 'include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../' + outside + '/fixtures/a.json"));\n',
            "crate/src/gone.rs": 'include_str!("../missing.txt");\n',
            "README.md": f"run `map {outside}/fixtures/x.json`\n",
        }
        for name, body in files.items():
            with open(os.path.join(repo, name), "w", encoding="utf-8") as handle:
                handle.write(body)
        subprocess.run(["git", "-C", repo, "init", "-q"], check=True)
        subprocess.run(["git", "-C", repo, "add", "."], check=True)
        found = "\n".join(check(repo))
        expected = ["crate/src/bad.rs:1", "crate/src/gone.rs:1", "README.md:1"]
        missing = [e for e in expected if e not in found]
        if missing or "crate/src/ok.rs" in found:
            print(f"self_contained.py self-test failed: missing {missing}; found:\n{found}")
            return 1
    print("self_contained.py self-test: the guard catches paths outside the repository")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = check(root)
    if problems:
        print("The repository must stand on its own: these tracked files refer to paths outside it.")
        print("Copy what is needed into the repository (fixtures go under tests/fixtures/ with a")
        print("provenance note) and point at the copy.\n")
        print("\n".join(problems))
        return 1
    print(f"self-contained: no tracked file refers to a path outside {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
