"""Runs a composite GitHub Action's steps the way the runner does, for tests.

What the runner does for a composite action (docs.github.com, "Metadata syntax for GitHub
Actions", and actions/runner's composite handler), and so what this does:

- inputs are the `with:` values, else each input's `default`; a composite action's scripts see
  them only through what the step's `env:` maps (there are no INPUT_* variables for composite
  actions);
- each step's `if:` is an expression evaluated with the `inputs`, `steps`, `github`, `runner` and
  `env` contexts, and a step runs only while every earlier step succeeded (`success()` is
  implied);
- `shell: bash` runs `bash --noprofile --norc -eo pipefail FILE` with the script in FILE;
- each step has a fresh GITHUB_OUTPUT file, read after it as `name=value` lines or
  `name<<DELIMITER` blocks, which become `steps.<id>.outputs.<name>`;
- the action's `outputs:` are evaluated at the end.

Only the expression syntax the runner evaluates is accepted: literals ('...', numbers, true,
false, null), context paths, `!`, `==`, `!=`, `&&`, `||` and parentheses. Anything else raises,
so an action that uses more than this test understands fails its test instead of passing by luck.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\))"
                   r"|(?P<path>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))")


class ExpressionError(ValueError):
    pass


def tokens(text: str) -> list:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"unsupported expression syntax at {text[pos:]!r} in {text!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def as_string(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def truthy(value) -> bool:
    return value not in (None, False, "", 0)


def equal(a, b) -> bool:
    # The runner compares strings case-insensitively and coerces mixed types to numbers; the
    # actions here compare strings with strings only.
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


class Evaluator:
    def __init__(self, contexts: dict):
        self.contexts = contexts

    def evaluate(self, text: str):
        self.toks, self.i = tokens(text), 0
        if not self.toks:
            raise ExpressionError("empty expression")
        value = self._or()
        if self.i != len(self.toks):
            raise ExpressionError(f"unexpected {self.toks[self.i][1]!r} in {text!r}")
        return value

    def _peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def _take(self, op):
        if self._peek() == ("op", op):
            self.i += 1
            return True
        return False

    def _or(self):
        value = self._and()
        while self._take("||"):
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self):
        value = self._not()
        while self._take("&&"):
            right = self._not()
            value = right if truthy(value) else value
        return value

    def _not(self):
        if self._take("!"):
            return not truthy(self._not())
        left = self._primary()
        if self._take("=="):
            return equal(left, self._primary())
        if self._take("!="):
            return not equal(left, self._primary())
        return left

    def _primary(self):
        kind, text = self._peek()
        self.i += 1
        if kind == "op" and text == "(":
            value = self._or()
            if not self._take(")"):
                raise ExpressionError("missing )")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "path":
            if text in ("true", "false"):
                return text == "true"
            if text == "null":
                return None
            head, *rest = text.split(".")
            if head not in self.contexts:
                raise ExpressionError(f"unknown context {head!r}")
            value = self.contexts[head]
            for part in rest:
                value = value.get(part) if isinstance(value, dict) else None
            return value
        raise ExpressionError(f"unexpected {text!r}")

    def interpolate(self, text) -> str:
        if not isinstance(text, str):
            return as_string(text)
        return EXPRESSION.sub(lambda m: as_string(self.evaluate(m.group(1))), text)


def load_yaml(path: Path):
    from ruamel.yaml import YAML  # installed with check-jsonschema (scripts/install-deps.sh test)

    return YAML(typ="safe").load(path.read_text())


def read_outputs(path: Path) -> dict:
    """GITHUB_OUTPUT's two forms: name=value, and name<<DELIMITER ... DELIMITER."""
    outputs, lines = {}, path.read_text().splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            value = []
            while i < len(lines) and lines[i] != delimiter:
                value.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"GITHUB_OUTPUT: no closing {delimiter!r} for {name!r}")
            i += 1
            outputs[name] = "\n".join(value)
        else:
            name, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"GITHUB_OUTPUT: malformed line {line!r}")
            outputs[name] = value
    return outputs


@dataclass
class StepResult:
    id: str
    name: str
    outcome: str  # success | failure | skipped
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list
    outputs: dict

    @property
    def ok(self) -> bool:
        return all(s.outcome != "failure" for s in self.steps)

    def step(self, step_id: str) -> StepResult:
        return next(s for s in self.steps if s.id == step_id)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.id} ({s.outcome})\n{s.stdout}{s.stderr}" for s in self.steps)


def run_composite(action_dir: Path, with_inputs: dict, *, env: dict, work: Path, github: dict | None = None,
                  timeout: float = 300) -> ActionRun:
    """Runs action_dir/action.yml's steps in order. `env` is the job's environment (the
    runner's variables such as ACTIONS_ID_TOKEN_REQUEST_URL and GITHUB_REPOSITORY)."""
    action = load_yaml(action_dir / "action.yml")
    if action["runs"]["using"] != "composite":
        raise ValueError("not a composite action")
    declared = action.get("inputs") or {}
    unknown = set(with_inputs) - set(declared)
    if unknown:
        raise ValueError(f"inputs the action does not declare: {sorted(unknown)}")  # the runner warns
    inputs = {name: as_string(with_inputs.get(name, spec.get("default", ""))) for name, spec in declared.items()}
    for name, spec in declared.items():
        if spec.get("required") and not inputs[name]:
            raise ValueError(f"required input {name!r} missing")
    temp = work / "runner-temp"
    temp.mkdir(parents=True, exist_ok=True)
    contexts = {"inputs": inputs, "steps": {}, "github": dict(github or {}), "runner": {"temp": str(temp), "os": "Linux"},
                "env": dict(env)}
    contexts["github"].setdefault("action_path", str(action_dir))
    results, failed = [], False
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__step{index}")
        ev = Evaluator(contexts)
        condition = step.get("if")
        if isinstance(condition, str):
            condition = condition.strip()
            if condition.startswith("${{") and condition.endswith("}}"):
                condition = condition[3:-2]
        runs = not failed and (condition is None or truthy(ev.evaluate(condition) if isinstance(condition, str) else condition))
        if not runs:
            results.append(StepResult(step_id, step.get("name", step_id), "skipped"))
            contexts["steps"][step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            continue
        if "run" not in step or step.get("shell") != "bash":
            raise ValueError(f"step {step_id}: only `run:` steps with `shell: bash` are run here")
        if EXPRESSION.search(step["run"]):
            raise ValueError(f"step {step_id}: ${{{{ }}}} inside run: (template injection); pass it through env:")
        output_file = temp / f"output-{index}"
        output_file.write_text("")
        script = temp / f"step-{index}.sh"
        script.write_text(step["run"])
        step_env = dict(env)
        step_env.update({"GITHUB_OUTPUT": str(output_file), "GITHUB_ACTION_PATH": str(action_dir),
                         "RUNNER_TEMP": str(temp), "GITHUB_ACTIONS": "true", "CI": "true"})
        for name, value in (step.get("env") or {}).items():
            step_env[name] = ev.interpolate(value)
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=step_env,
                              cwd=str(work), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        outcome = "success" if done.returncode == 0 else "failure"
        outputs = read_outputs(output_file)
        results.append(StepResult(step_id, step.get("name", step_id), outcome, done.returncode, done.stdout,
                                  done.stderr, outputs))
        contexts["steps"][step_id] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
        failed = failed or outcome == "failure"
    ev = Evaluator(contexts)
    outputs = {name: ev.interpolate(spec.get("value", "")) for name, spec in (action.get("outputs") or {}).items()}
    return ActionRun(results, outputs)


def expressions_in(node):
    """Every ${{ }} expression and every `if:` in a loaded YAML document (for syntax checks)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "if" and isinstance(value, str) and "${{" not in value:
                yield value
            else:
                yield from expressions_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions_in(item)
    elif isinstance(node, str):
        for m in EXPRESSION.finditer(node):
            yield m.group(1)


def clean_environment() -> dict:
    """The test's environment without credentials `ee` would pick up instead of the job's."""
    env = dict(os.environ)
    for name in ("EE_TOKEN", "EE_CP_URL", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                 "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
        env.pop(name, None)
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="ee-action-config-")
    return env
