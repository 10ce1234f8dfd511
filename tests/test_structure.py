"""The code's shape: configuration loads without TensorFlow, every import between the top-level
packages runs down their layers, no module imports itself back through another (a cycle would
let loading a config pull in Keras, as it once did), and no function runs past 60 lines."""
import ast
import os
import subprocess
import sys

from pipeline_runs import PROJECT_ROOT
from trainer import config, models

# Top to bottom: a package imports only from the layers below its own.
LAYERS = (("cli",), ("kubeflow", "streaming"), ("pipeline", "imdb_lstm"), ("components",),
          ("trainer",))
PACKAGES = tuple(package for layer in LAYERS for package in layer)


def test_configuration_and_the_cli_load_without_tensorflow():
    heavy = ("tensorflow", "keras", "tfx", "apache_beam")
    code = ("import sys; import pipeline.config, cli.main, trainer.config, trainer.features, "
            "trainer.artifacts, kubeflow.settings; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=PROJECT_ROOT, check=True)
    assert process.stdout.strip() == "[]"


def _project_imports(path: str, module: str):
    """The project modules that `module` (at `path`) imports, anywhere in its code."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in PACKAGES)


def import_graph():
    modules = {}
    for package in PACKAGES:
        for directory, _, files in os.walk(os.path.join(PROJECT_ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    dotted = os.path.relpath(path, PROJECT_ROOT)[:-3].replace(os.sep, ".")
                    modules[dotted.removesuffix(".__init__")] = path
    return {module: {name for name in _project_imports(path, module) if name in modules}
            - {module} for module, path in modules.items()}


def _layer(module: str) -> int:
    package = module.split(".")[0]
    return next(depth for depth, layer in enumerate(LAYERS) if package in layer)


def test_imports_between_packages_run_down_the_layers():
    upward = sorted(f"{module} -> {imported}" for module, imports in import_graph().items()
                    for imported in imports
                    if module.split(".")[0] != imported.split(".")[0]
                    and _layer(imported) <= _layer(module))
    assert upward == []


def test_no_import_cycles():
    graph = import_graph()
    done, cycles = set(), []

    def visit(module, stack):
        if module in stack:
            cycles.append(stack[stack.index(module):] + [module])
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, stack + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_every_listed_variant_has_a_builder():
    assert models.variants() == sorted(config.VARIANTS)


# The style guide's bound: a function a reader takes in at once.
MOST_LINES_PER_FUNCTION = 60


def test_no_function_is_longer_than_a_reader_takes_in_at_once():
    too_long = []
    for top in PACKAGES + ("bench", "scripts", "tests"):
        for directory, _, files in os.walk(os.path.join(PROJECT_ROOT, top)):
            for name in (n for n in files if n.endswith(".py")):
                path = os.path.join(directory, name)
                with open(path) as f:
                    tree = ast.parse(f.read())
                too_long += [f"{os.path.relpath(path, PROJECT_ROOT)}:{node.lineno} {node.name} "
                             f"({node.end_lineno - node.lineno + 1} lines)"
                             for node in ast.walk(tree)
                             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                             and node.end_lineno - node.lineno + 1 > MOST_LINES_PER_FUNCTION]
    assert not too_long
