"""What a model does with notebooks/analysis.ipynb's task, as a fake-LLM turn script.

Each turn is decided by the number of tool results so far: look at the variables, compute
the monthly means and odd readings, draw the chart, add the chart's code as a cell, answer.
"""

from __future__ import annotations

from typing import Any

from tests.fakellm import Reply, call, text

SUMMARY = """\
import statistics
monthly_means = {m: round(statistics.mean(v), 1) for m, v in temperatures.items()}
spread = statistics.pstdev(x for v in temperatures.values() for x in v)
odd = [(m, x) for m, v in temperatures.items() for x in v
       if abs(x - monthly_means[m]) > 4 * statistics.pstdev(v) / 2 + spread]
print("odd readings:", odd)
monthly_means
"""
CHART = """\
from IPython.display import SVG, display
top = max(monthly_means.values())
bars = "".join(
    f'<rect x="{10 + i * 30}" y="{210 - 200 * v / top:.0f}" width="22" '
    f'height="{200 * v / top:.0f}" fill="steelblue"><title>{m}: {v}</title></rect>'
    for i, (m, v) in enumerate(monthly_means.items()))
display(SVG(f'<svg xmlns="http://www.w3.org/2000/svg" width="380" height="220">{bars}</svg>'))
"""
ANSWER = ("Monthly means are in `monthly_means`; one reading is wrong: **48.0 on 2024-04**. "
          "The chart's code is the last cell of analysis.ipynb.")


def analysis_agent(body: dict[str, Any]) -> Reply:
    """The next turn of the analysis task."""
    done = sum(1 for m in body.get("messages", []) if m.get("role") == "tool")
    turns = [
        call("list_variables", {}),
        call("python", {"code": SUMMARY}),
        call("python", {"code": CHART}),
        call("edit_notebook", {"action": "insert", "path": "analysis.ipynb", "source": CHART}),
    ]
    return turns[done] if done < len(turns) else text(ANSWER)
