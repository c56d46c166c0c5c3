"""Checks docs/openapi.yaml and writes the copy of it that describes one test deployment.

    contract_spec.py SPEC OUT [--max-tokens N] [--drop-parameter NAME]...

1. SPEC is validated against the OpenAPI 3.1 meta-schema (the one schemathesis ships) and loaded by
   schemathesis itself, so a spec that either refuses is an error naming the problem.
2. OUT (JSON) is SPEC with the deployment's own limits: every `max_tokens`, `max_completion_tokens` and
   `max_new_tokens` maximum becomes N (the stack's MAX_TOKENS_LIMIT, which the spec documents as 4096 by
   default), and each header parameter named by --drop-parameter is left out (for parameters the routes
   of this build do not read yet).

Exit status 0 when the spec is valid and OUT was written, 1 otherwise (the problems on stderr).
"""

import argparse
import json
import sys

import yaml

TOKEN_FIELDS = {"max_tokens", "max_completion_tokens", "max_new_tokens"}


def validate(spec: dict, path: str) -> list[str]:
    """The meta-schema's complaints about `spec`, then schemathesis' own, as lines."""
    from schemathesis.specs.openapi import definitions

    problems = [
        f"{path}: /{'/'.join(map(str, error.instance_path))}: {error.message[:500]}"
        for error in definitions.OPENAPI_31_VALIDATOR.iter_errors(spec)
    ]
    if problems:
        return problems
    import schemathesis

    try:
        schema = schemathesis.openapi.from_dict(spec)
        operations = [result.ok() for result in schema.get_all_operations()]
    except Exception as error:  # schemathesis raises several kinds; all mean the same here
        return [f"{path}: schemathesis cannot load it: {error}"]
    if not operations:
        return [f"{path}: no operations"]
    return []


def limit_tokens(node, limit: int) -> int:
    """Sets the maximum of every token-count property under `node` to `limit`; returns how many."""
    changed = 0
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, schema in properties.items():
                if name in TOKEN_FIELDS and isinstance(schema, dict) and "maximum" in schema:
                    schema["maximum"] = limit
                    changed += 1
        for value in node.values():
            changed += limit_tokens(value, limit)
    elif isinstance(node, list):
        for value in node:
            changed += limit_tokens(value, limit)
    return changed


def drop_parameters(spec: dict, names: set[str]) -> int:
    """Removes header parameters (inline or referenced) whose name is in `names`; returns how many."""
    components = spec.get("components", {}).get("parameters", {})

    def name_of(parameter: dict) -> str | None:
        ref = parameter.get("$ref")
        if ref:
            parameter = components.get(ref.rsplit("/", 1)[-1], {})
        return parameter.get("name")

    dropped = 0
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                kept = [p for p in operation["parameters"] if name_of(p) not in names]
                dropped += len(operation["parameters"]) - len(kept)
                operation["parameters"] = kept
    return dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec")
    parser.add_argument("out")
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--drop-parameter", action="append", default=[])
    args = parser.parse_args()
    try:
        with open(args.spec, encoding="utf-8") as f:
            spec = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as error:
        print(f"{args.spec}: cannot read it: {error}", file=sys.stderr)
        return 1
    problems = validate(spec, args.spec)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if args.max_tokens is not None and limit_tokens(spec, args.max_tokens) == 0:
        print(f"{args.spec}: no max_tokens maximum found to set", file=sys.stderr)
        return 1
    drop_parameters(spec, set(args.drop_parameter))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    operations = sum(1 for item in spec["paths"].values() for key in item if key in {"get", "post", "delete", "put", "patch"})
    print(f"{args.spec}: valid OpenAPI {spec['openapi']}, {operations} operations; deployment copy in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
