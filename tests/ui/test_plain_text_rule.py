"""The UI code hands text to Textual only through ``envtui.widgets.plain``: a machine-checked
contract beside the Pilot test (``test_hostile_text.py``), which can only try the names it knows.

Textual reads a ``str`` as markup in ``notify``, ``Static``, ``Label``, ``Button``, ``DataTable``
rows and border titles: a string built with an f-string there is how a file name became markup.
"""

from __future__ import annotations

import ast
from pathlib import Path

import envtui

PACKAGE = Path(envtui.__file__).parent
UI = sorted([*PACKAGE.glob("screens/*.py"), *PACKAGE.glob("dialogs/*.py"), *PACKAGE.glob("widgets/*.py"),
             PACKAGE / "app.py", PACKAGE / "machine_ui.py"])
PLAIN = PACKAGE / "widgets" / "plain.py"
#: Calls whose ``str`` argument Textual shows (as markup, or raw where it takes only a ``str``), and
#: ``Text``, which never escapes a control character.
SHOWS = {"update", "Static", "Label", "Button", "add_row", "add_column", "write_line", "write", "Text"}
#: Attributes whose ``str`` value Textual shows.
SHOWN = {"sub_title", "title", "border_title", "border_subtitle", "label", "tooltip"}


def _name(call: ast.Call) -> str | None:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _formatted(node: ast.AST) -> bool:
    """Whether ``node`` builds a string from values (an f-string with a field, ``+``, ``%``)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    return isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)) and not (
        isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant))


def _offences(path: Path, source: str | None = None) -> list[str]:
    """What in the module at ``path`` (or ``source``, as if it were there) breaks the rule."""
    tree = ast.parse(path.read_text() if source is None else source, str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            name = _name(node)
            if name == "notify" and isinstance(node.func, ast.Attribute) and path != PLAIN:
                out.append(f"{where}: .notify() reads markup: use envtui.widgets.plain.notify")
            if any(k.arg == "markup" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                   for k in node.keywords):
                out.append(f"{where}: markup=")
            if name in SHOWS and any(_formatted(a) for a in node.args):
                out.append(f"{where}: a string built from values given to {name}(): use plain()")
        if isinstance(node, ast.Assign) and _formatted(node.value):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr in SHOWN:
                    out.append(f"{where}: .{target.attr} set to a string built from values: use plain()/plain_str()")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            names = {a.name for a in node.names}
            if module in ("rich.markup", "textual.markup") and path.name != "help.py":
                out.append(f"{where}: {module}: escaping markup is not enough (control characters pass): use plain()")
            if "escape" in names and module.endswith("markup") and path.name != "help.py":
                out.append(f"{where}: markup escape")
    return out


def test_the_ui_shows_text_only_through_plain() -> None:
    assert len(UI) > 20  # the UI was found
    offences = [o for path in UI for o in _offences(path)]
    assert not offences, "\n".join(offences)


def test_the_rule_finds_what_it_forbids() -> None:
    # The check itself: each way a disk string used to reach the screen is found.
    source = (
        "from rich.markup import escape\n"
        "def f(self, name, path):\n"
        "    self.notify(f'{name} is gone')\n"
        "    self.query_one('#x').update(f'[red]{escape(name)}[/red]')\n"
        "    self.sub_title = f'{path}'\n"
        "    table.add_row(name, 'at ' + path)\n"
        "    box.update(Text(f'{name}', 'bold'))\n"
        "    app.notify(name, markup=True)\n"
    )
    offences = _offences(PACKAGE / "screens" / "example.py", source)
    assert len(offences) == 9, "\n".join(offences)
