"""Alert quality: the tasks of a backtest scored against what happened to the accounts
(`cs-signals evaluate`; DOMAIN.md, "Alert quality").

outcomes.py reads the outcomes file, scoring.py computes the figures (pure), report.py prints
them (table, JSON), compare.py sets two rules files' figures side by side and chart.py draws
risk tasks per week as a self-contained HTML file.
"""

from workers.replay.evaluation.chart import render_chart
from workers.replay.evaluation.compare import render_comparison
from workers.replay.evaluation.outcomes import Outcome, OutcomeError, parse_outcomes, read_outcomes
from workers.replay.evaluation.report import render_json, render_table
from workers.replay.evaluation.scoring import (
    DEFINITIONS,
    TARGETS,
    Book,
    ScoredTask,
    score,
    scored_tasks,
)

__all__ = [
    "DEFINITIONS",
    "TARGETS",
    "Book",
    "Outcome",
    "OutcomeError",
    "ScoredTask",
    "parse_outcomes",
    "read_outcomes",
    "render_chart",
    "render_comparison",
    "render_json",
    "render_table",
    "score",
    "scored_tasks",
]
