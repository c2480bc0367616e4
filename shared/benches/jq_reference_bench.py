"""Times the jq Python package (libjq, what Port's integration uses) mapping the same objects with
the same expressions, each expression compiled once. Reads {"resources": [{"exprs": [...],
"objects": [...]}], "seconds": float} on stdin; prints {"entities_per_second": float}."""

import json
import sys
import time

import jq


def main() -> None:
    request = json.load(sys.stdin)
    resources = [
        ([jq.compile(e) for e in r["exprs"]], r["objects"]) for r in request["resources"]
    ]
    entities = 0
    deadline = time.perf_counter() + request["seconds"]
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for programs, objects in resources:
            for obj in objects:
                for program in programs:
                    try:
                        program.input_value(obj).first()
                    except Exception:
                        pass
                entities += 1
    elapsed = time.perf_counter() - start
    json.dump({"entities_per_second": entities / elapsed}, sys.stdout)


if __name__ == "__main__":
    main()
