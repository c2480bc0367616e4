"""Reference evaluator for the mapping engine's differential tests.

Reads {"cases": [{"expr": str, "input": <json>}]} on stdin, evaluates each expression with the
`jq` Python package (libjq; version 1.8.0 embeds jq 1.7.1), each distinct expression compiled
once, and prints {"jq_version": ..., "results": [{"outputs": [...]} | {"error": str}]} on stdout.
"""

import json
import sys

import jq


def main() -> None:
    request = json.load(sys.stdin)
    programs = {}
    results = []
    for case in request["cases"]:
        expr = case["expr"]
        try:
            program = programs.get(expr)
            if program is None:
                program = jq.compile(expr)
                programs[expr] = program
            outputs = program.input_text(json.dumps(case["input"])).all()
            results.append({"outputs": outputs})
        except Exception as error:  # jq raises ValueError for compile and runtime errors
            results.append({"error": str(error).splitlines()[0] if str(error) else "error"})
    json.dump({"jq_version": getattr(jq, "__version__", "unknown"), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
