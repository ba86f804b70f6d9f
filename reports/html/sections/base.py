"""The section contract: `applies(ctx)` says whether the table holds what
the section needs; `build(ctx)` returns its figures and HTML. Sections are
registered by name; the report shows them in registration order."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from skipsim.registry import registrar

SECTIONS: dict = {}
register_section = registrar(SECTIONS, set_name=True)


@dataclass
class Section:
    title: str
    intro: str  # HTML paragraph(s)
    figures: list = field(default_factory=list)  # plotly figures
    html: str = ""  # tables and notes after the figures


class ReportSection(ABC):
    name = "?"
    needs_points = True  # shown only when some point finished without error

    @abstractmethod
    def applies(self, ctx) -> bool:
        """Whether the sweep's table holds what this section shows."""

    @abstractmethod
    def build(self, ctx) -> Section:
        ...
