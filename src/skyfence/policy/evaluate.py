"""Bulk policy decisions, exactly equal to Cedar's, for millions of requests.

Method (exact by construction)
------------------------------
Cedar decides a request from: the principal's uid and ancestors, the resource's uid and ancestors,
the action, and the context. Entities here carry no attributes and a policy can only *test* uids it
names (``==``, ``in``, scope constraints); it cannot enumerate ancestors or read a uid's text. So:

* principal: only membership in the groups the policies name matters, and the terminal's own id only
  if the policies name that ``Terminal`` -> class = (named groups it is in, its id if named else *);
* resource: likewise (named regions it is in, its cell id if a named ``Cell`` else *);
* time: if ``context.time`` only appears compared (<, <=, >, >=, ==, !=) with ``datetime("...")``
  literals, its class is its position among those literals (rank, and whether it equals one);
  otherwise (``toTime()``, ``offset``, arithmetic, ``context`` used whole...) the exact millisecond;
* speed_kmh: the same with Long literals, else the exact integer.

Requests are encoded as integer class keys, reduced with a dense table or np.unique, each unseen
class is asked of Cedar once (``is_authorized_batch`` on a real representative request, with the
full class in the entities), and the answers broadcast back with numpy. Answers are cached by class,
so later steps usually ask Cedar nothing. Entity literals are collected from Cedar's own JSON form
of the policies (every ``{type, id}`` uid anywhere in it), so nothing a policy names is missed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.policy.cedar import ServicePolicy

__all__ = ["LabelSets", "BulkEvaluator"]


@dataclass(frozen=True)
class LabelSets:
    """Factorised label sets: item i has labels ``sets[codes[i]]`` (a sorted tuple of names).

    Used for terminals' groups and cells' regions; `codes` is an int32 array, `sets` is short.
    """

    sets: tuple[tuple[str, ...], ...]
    codes: np.ndarray

    @classmethod
    def from_lists(cls, per_item: Sequence[Any]) -> LabelSets:
        """From one entry per item: None/"" (no label), a str (one label; "a;b" is NOT split), or an
        iterable of str."""
        raise NotImplementedError

    @classmethod
    def from_labels(cls, labels: Sequence[Any], *, sep: str | None = None) -> LabelSets:
        """From one str per item (e.g. a CSV `group` column); `sep` splits "a;b" into two labels;
        None/NaN/"" means no label. Vectorised over unique values."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, index: np.ndarray) -> LabelSets:
        """The label sets of items `index` (same `sets`, gathered codes)."""
        raise NotImplementedError

    def tolist(self) -> list[tuple[str, ...]]:
        raise NotImplementedError


class BulkEvaluator:
    """Vectorised Cedar decisions for one `ServicePolicy`.

    Fast path for fixed terminals (classes computed once, per step only integer gathers)::

        ev = BulkEvaluator(policy)
        pc = ev.principal_classes(terminal_ids, groups)      # once per terminal
        rc = ev.resource_classes(cells, regions)              # once per cell
        allow = ev.decide_classes(pc[req_terminal], rc[req_cell], time=t, speed_kmh=0)

    One-shot convenience: ``ev.decide(terminal_ids, groups, cells, regions, time, speed_kmh)``.
    `time`: a scalar instant or one per request (datetime64, datetime, ISO str, or epoch ms int);
    `speed_kmh`: scalar or per request, floats rounded as `cedar.speed_to_long`.
    Counters: ``cedar_requests`` (requests sent to Cedar so far), ``last_classes`` (distinct classes
    in the last call).
    """

    def __init__(self, policy: ServicePolicy):
        raise NotImplementedError

    def principal_classes(self, terminal_ids: Sequence[str], groups: LabelSets | Sequence[Any]) -> np.ndarray:
        """int32 principal class of each terminal (stable for this evaluator's lifetime)."""
        raise NotImplementedError

    def resource_classes(self, cells: np.ndarray | Sequence[Any], regions: LabelSets | Sequence[Any]) -> np.ndarray:
        """int32 resource class of each cell (uint64 or hex str cells)."""
        raise NotImplementedError

    def decide_classes(
        self, principal_class: np.ndarray, resource_class: np.ndarray, time: Any, speed_kmh: Any = 0
    ) -> np.ndarray:
        """bool allow per request, from per-request principal/resource classes."""
        raise NotImplementedError

    def decide(
        self,
        terminal_ids: Sequence[str],
        groups: LabelSets | Sequence[Any],
        cells: np.ndarray | Sequence[Any],
        regions: LabelSets | Sequence[Any],
        time: Any,
        speed_kmh: Any = 0,
    ) -> np.ndarray:
        """bool allow per request; arrays aligned per request."""
        raise NotImplementedError
