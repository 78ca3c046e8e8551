"""Every public module, class, function and method of the package has a docstring."""

import ast
import pathlib

from .conftest import REPO_ROOT


def _undocumented(path):
    tree = ast.parse(path.read_text())
    missing = [] if ast.get_docstring(tree) else ['<module>']

    def walk(body, prefix):
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith('_'):
                continue
            setter = any(
                isinstance(d, ast.Attribute) and d.attr in ('setter', 'deleter')
                for d in node.decorator_list
            )
            if not setter and not ast.get_docstring(node):
                missing.append(f'{prefix}{node.name} (line {node.lineno})')
            if isinstance(node, ast.ClassDef):
                walk(node.body, f'{prefix}{node.name}.')

    walk(tree.body, '')
    return missing


def test_public_api_is_documented():
    package = pathlib.Path(REPO_ROOT) / 'msclr_mm'
    files = sorted(package.rglob('*.py'))
    assert len(files) > 20
    missing = {str(p.relative_to(REPO_ROOT)): m for p in files if (m := _undocumented(p))}
    assert not missing, f'public names without a docstring: {missing}'


def test_the_check_catches_a_missing_docstring(tmp_path):
    source = tmp_path / 'mod.py'
    source.write_text(
        '"""Module."""\n\n\nclass A:\n    """A."""\n\n    def f(self):\n        pass\n\n'
        '    def _g(self):\n        pass\n\n\ndef h():\n    """H."""\n'
    )
    assert _undocumented(source) == ['A.f (line 7)']
