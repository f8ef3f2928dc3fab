"""Reads the `-->` / `<--` conversation files shared with the Rust tests."""

import json
import pathlib

SPEC = pathlib.Path(__file__).resolve().parents[1] / "conformance" / "spec.rpc"


def cases(path=SPEC):
    """Yields (request_text, [expected responses], raw) for each case."""
    case, raw_next = None, False
    for line in path.read_text().splitlines():
        if line.startswith("// raw"):
            raw_next = True
        elif line.startswith("-->"):
            if case:
                yield case
            case = (line[3:].strip(), [], raw_next)
            raw_next = False
        elif line.startswith("<--"):
            case[1].append(json.loads(line[3:]))
    if case:
        yield case


def strip_messages(value):
    """Error messages may differ from the specification's; codes and ids may not."""
    if isinstance(value, list):
        return [strip_messages(v) for v in value]
    if isinstance(value, dict):
        return {
            k: ({kk: vv for kk, vv in v.items() if kk not in ("message", "data")} if k == "error" else v)
            for k, v in value.items()
        }
    return value
