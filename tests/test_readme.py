"""The README's Python snippets run as shown (every ```python block, in order, in one
namespace)."""
import pathlib
import re
import textwrap

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python blocks"
    namespace = {}
    for block in blocks:
        exec(compile(textwrap.dedent(block), str(README), "exec"), namespace)
    ts = namespace["ts"]
    assert isinstance(namespace["y"], ts.Tensor)
    assert abs(namespace["d2y"].item() - 9.0) < 1e-4      # 6 x at x = 1.5
