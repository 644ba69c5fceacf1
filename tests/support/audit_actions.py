"""Every audit action the code can write, found by reading the source (AST), not by running it.

A call ``audit.record(..., action=X)`` (or ``_new_entry(..., action=X)`` in ``trustspace/audit.py``) is resolved:

- a string literal is an action;
- ``a if c else b`` gives both branches;
- an f-string gives a pattern (``certificate.{kind}.stored``) whose placeholders are then resolved as names;
- a name is followed to its assignments in the same function, to the module's constants (``KEY_ROTATED``), to
  names imported from another module of the project, or — when it is a parameter of the enclosing function — to
  every call of that function in the project (``audit_request(req, user, "request.approved")``).

Whatever cannot be resolved is reported, so that a new indirection fails the test rather than hiding an action.
"""
from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("trustspace", "operators", "certificates", "whitelist", "weather", "dashboards", "demo")
RECORDING_FUNCTIONS = {"record", "_new_entry"}


@dataclass
class Module:
    path: Path
    dotted: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)


@dataclass
class Scan:
    actions: dict[str, set[str]] = field(default_factory=dict)  # action → where (file:line)
    unresolved: list[str] = field(default_factory=list)


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = list(relative.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            module = Module(path, ".".join(parts), tree)
            for parent in ast.walk(tree):
                for child in ast.iter_child_nodes(parent):
                    module.parents[child] = parent
            yield module


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _enclosing_function(module: Module, node: ast.AST):
    while node in module.parents:
        node = module.parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


class _Resolver:
    def __init__(self, modules: list[Module]):
        self.modules = modules
        self.by_dotted = {m.dotted: m for m in modules}
        self.calls_by_name: dict[str, list[tuple[Module, ast.Call]]] = {}
        for module in modules:
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call) and (name := _call_name(node)):
                    self.calls_by_name.setdefault(name, []).append((module, node))
        self.scan = Scan()
        self._seen: set[tuple[str, int, int, str]] = set()

    def where(self, module: Module, node: ast.AST) -> str:
        return f"{module.path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    # --- values ------------------------------------------------------------------------------------------

    def values(self, module: Module, node: ast.AST, context: ast.AST) -> list[str] | None:
        """The strings ``node`` may hold, or None when it cannot be resolved."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            body, orelse = self.values(module, node.body, context), self.values(module, node.orelse, context)
            return None if body is None or orelse is None else body + orelse
        if isinstance(node, ast.BoolOp):  # ``kind or "db"``
            options = [self.values(module, value, context) for value in node.values]
            return None if any(o is None for o in options) else [v for o in options for v in o]  # type: ignore[union-attr]
        if isinstance(node, ast.JoinedStr):
            pieces: list[list[str]] = []
            for part in node.values:
                if isinstance(part, ast.Constant):
                    pieces.append([str(part.value)])
                elif isinstance(part, ast.FormattedValue):
                    resolved = self.values(module, part.value, context)
                    if resolved is None:
                        return None
                    pieces.append(resolved)
            return ["".join(combo) for combo in itertools.product(*pieces)]
        if isinstance(node, ast.Name):
            return self.name_values(module, node.id, context)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            # ``audit.KEY_ROTATED`` or ``Kind.DB`` (a TextChoices member: its value)
            return self.attribute_values(module, node.value.id, node.attr)
        return None

    def _module_constant(self, module: Module, name: str) -> list[str] | None:
        for stmt in module.tree.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                return self.values(module, stmt.value, stmt)
            if isinstance(stmt, ast.ImportFrom) and stmt.module:
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        target = self._import_target(module, stmt)
                        if target is not None:
                            return self._module_constant(target, alias.name)
        return None

    def _import_target(self, module: Module, stmt: ast.ImportFrom) -> Module | None:
        dotted = stmt.module or ""
        if stmt.level:
            base = module.dotted.split(".")
            if module.path.name != "__init__.py":
                base = base[:-1]
            base = base[: len(base) - (stmt.level - 1)] if stmt.level > 1 else base
            dotted = ".".join([*base, dotted] if dotted else base)
        return self.by_dotted.get(dotted)

    def attribute_values(self, module: Module, owner: str, attr: str) -> list[str] | None:
        # owner is an imported module (``from trustspace import audit``) or a class with string members
        for stmt in ast.walk(module.tree):
            if isinstance(stmt, ast.ImportFrom):
                for alias in stmt.names:
                    if (alias.asname or alias.name) == owner:
                        parent = self._import_target(module, stmt)
                        dotted = f"{parent.dotted}.{alias.name}" if parent else f"{stmt.module}.{alias.name}"
                        target = self.by_dotted.get(dotted)
                        if target is not None:
                            return self._module_constant(target, attr)
                        if parent is not None:
                            return self._class_member(parent, alias.name, attr)
        return self._class_member(module, owner, attr)

    def _class_member(self, module: Module, cls: str, attr: str) -> list[str] | None:
        for stmt in module.tree.body:
            if isinstance(stmt, ast.ClassDef) and stmt.name == cls:
                for item in stmt.body:
                    if isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr
                                                            for t in item.targets):
                        value = item.value.elts[0] if isinstance(item.value, ast.Tuple) else item.value
                        return self.values(module, value, item)
        return None

    def name_values(self, module: Module, name: str, context: ast.AST) -> list[str] | None:
        function = _enclosing_function(module, context)
        if function is not None:
            assigned = [node for node in ast.walk(function)
                        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                                for t in node.targets)]
            loops = [node for node in ast.walk(function)
                     if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == name]
            if assigned or loops:
                found: list[str] = []
                for node in assigned:
                    resolved = self.values(module, node.value, node)
                    if resolved is None:
                        return None
                    found += resolved
                for loop in loops:
                    if not isinstance(loop.iter, ast.Tuple | ast.List):
                        return None
                    for element in loop.iter.elts:
                        resolved = self.values(module, element, loop)
                        if resolved is None:
                            return None
                        found += resolved
                return found
            arguments = function.args
            params = [a.arg for a in [*arguments.posonlyargs, *arguments.args]]
            if name in params or name in [a.arg for a in arguments.kwonlyargs]:
                return self.parameter_values(module, function, name, params)
        return self._module_constant(module, name)

    def parameter_values(self, module: Module, function: ast.FunctionDef, name: str,
                         params: list[str]) -> list[str] | None:
        found: list[str] = []
        calls = self.calls_by_name.get(function.name, [])
        if not calls:
            return None
        for caller_module, call in calls:
            key = (str(caller_module.path), call.lineno, call.col_offset, name)
            if key in self._seen:
                continue
            self._seen.add(key)
            argument = next((kw.value for kw in call.keywords if kw.arg == name), None)
            if argument is None and name in params:
                index = params.index(name) - (1 if params and params[0] in ("self", "cls") else 0)
                if index < len(call.args):
                    argument = call.args[index]
            if argument is None:
                continue  # this call does not pass it (another function of the same name, or a default)
            resolved = self.values(caller_module, argument, call)
            if resolved is None:
                return None
            found += resolved
        return found

    # --- seeds -------------------------------------------------------------------------------------------

    def run(self) -> Scan:
        for module in self.modules:
            for node in ast.walk(module.tree):
                if not (isinstance(node, ast.Call) and _call_name(node) in RECORDING_FUNCTIONS):
                    continue
                argument = next((kw.value for kw in node.keywords if kw.arg == "action"), None)
                if argument is None:
                    continue
                resolved = self.values(module, argument, node)
                if resolved is None:
                    self.scan.unresolved.append(self.where(module, node))
                    continue
                for value in resolved:
                    self.scan.actions.setdefault(value, set()).add(self.where(module, node))
        return self.scan


def scan_actions() -> Scan:
    return _Resolver(list(_modules())).run()


if __name__ == "__main__":
    result = scan_actions()
    for action in sorted(result.actions):
        print(action, sorted(result.actions[action])[0])
    print("unresolved:", result.unresolved)
