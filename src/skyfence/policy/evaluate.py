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
* speed_kmh: the same with Long literals, else the exact integer;
* funded: the bool itself (one class when no policy reads ``context.funded``);
* sponsors (a Set of String): (the sponsors in it that are string literals of the policies, whether
  it holds any other string). Exact: Cedar cannot iterate a set, take its size or turn an element
  into anything but a comparison with another value, and every other string a policy can build is a
  literal, so a set is only ever compared (``contains``, ``containsAll``, ``containsAny``,
  ``isEmpty``, ``==``) with sets of literals; each such test depends on the set only through its
  literals and through "something else is in it". A placeholder string no policy names stands for
  "something else" in the representative request. When ``context`` is used whole, the set is keyed
  exactly; when no policy reads ``context.sponsors``, it is one class.

Requests are encoded as integer class keys, reduced with a dense table or np.unique, each unseen
class is asked of Cedar once (``is_authorized_batch`` on one representative request: the class's
named groups/regions as parents, the literal id or a placeholder id that no policy names, the
time/speed of a real request of that class and its funded/sponsors representative), and the answers broadcast back with numpy. Answers are
cached by class, so later steps usually ask Cedar nothing. With each answer goes the set of policies
that determined it, Cedar's ``diagnostics.reasons`` for the representative (the ``permit`` policies
that allowed it, or the ``forbid`` policies that denied it; empty when no ``permit`` applies: the
default deny): every policy's outcome on a request depends on the request only through its class
(the same argument as for the decision), so the representative's reasons are every member's. Entity literals are collected from
Cedar's own JSON form of the policies (every ``{type, id}`` uid anywhere in it, templates and links
included), so nothing a policy names is missed; collecting too many only makes classes finer.
Datetime literals used as breakpoints are checked with Cedar itself (``context.time ==
datetime("L")`` must hold at the parsed instant), else time falls back to exact milliseconds.

Size: about 600 lines, on purpose one module. The literal collection, the class encoding and the
Cedar representative requests are one proof of exactness together: each relies on the others'
invariants (which uids are "named", what a class key holds), and splitting them would put those
invariants in different files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import cedarpy
import numpy as np

from skyfence.errors import PolicyError
from skyfence.policy.cedar import (
    ACTION,
    ServicePolicy,
    cedar_datetime,
    cell_id,
    epoch_ms,
    request_context,
    speed_to_long,
)

__all__ = ["LabelSets", "BulkEvaluator"]

_COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


# --------------------------------------------------------------------------- label sets

def _as_label_tuple(item: Any) -> tuple[str, ...]:
    if item is None:
        return ()
    if isinstance(item, float) and item != item:  # NaN
        return ()
    if isinstance(item, str):
        return (item,) if item else ()
    if isinstance(item, Iterable):
        return tuple(sorted({str(x) for x in item if x is not None and x != ""}))
    return (str(item),)


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
        index: dict[tuple[str, ...], int] = {}
        codes = np.empty(len(per_item), dtype=np.int32)
        for i, item in enumerate(per_item):
            key = _as_label_tuple(item)
            codes[i] = index.setdefault(key, len(index))
        return cls(sets=tuple(index), codes=codes)

    @classmethod
    def from_labels(cls, labels: Sequence[Any], *, sep: str | None = None) -> LabelSets:
        """From one str per item (e.g. a CSV `group` column); `sep` splits "a;b" into two labels;
        None/NaN/"" means no label. Vectorised over unique values."""
        import pandas as pd

        codes, uniques = pd.factorize(pd.Series(labels, dtype=object), use_na_sentinel=True)
        sets_per_unique = []
        for u in uniques:
            parts = [x.strip() for x in str(u).split(sep)] if sep else [str(u)]
            sets_per_unique.append(_as_label_tuple([x for x in parts if x]))
        sets_per_unique.append(())  # NaN / None (code -1)
        index: dict[tuple[str, ...], int] = {}
        remap = np.array([index.setdefault(t, len(index)) for t in sets_per_unique], dtype=np.int32)
        return cls(sets=tuple(index), codes=remap[np.asarray(codes)])

    @classmethod
    def coerce(cls, value: LabelSets | Sequence[Any], n: int, what: str) -> LabelSets:
        ls = value if isinstance(value, LabelSets) else cls.from_lists(list(value))
        if len(ls) != n:
            raise PolicyError(f"{what}: {len(ls)} label sets for {n} items")
        return ls

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, index: np.ndarray) -> LabelSets:
        """The label sets of items `index` (same `sets`, gathered codes)."""
        return LabelSets(sets=self.sets, codes=self.codes[np.asarray(index)])

    def tolist(self) -> list[tuple[str, ...]]:
        sets = self.sets
        return [sets[c] for c in self.codes.tolist()]


# --------------------------------------------------------------------------- policy analysis

def _walk(node: Any):
    yield node
    if isinstance(node, dict):
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _entity_literals(ast: dict) -> dict[str, set[str]]:
    """Every entity uid named anywhere in Cedar's JSON policy form, by type."""
    out: dict[str, set[str]] = {}
    for node in _walk(ast):
        if isinstance(node, dict) and isinstance(node.get("type"), str) and isinstance(node.get("id"), str):
            out.setdefault(node["type"], set()).add(node["id"])
    return out


def _is_context_attr(node: Any, attr: str | None = None) -> bool:
    if not (isinstance(node, dict) and len(node) == 1 and "." in node):
        return False
    inner = node["."]
    return (isinstance(inner, dict) and inner.get("left") == {"Var": "context"}
            and (attr is None or inner.get("attr") == attr))


def _string_literals(ast: dict) -> set[str]:
    """Every string literal (``{"Value": "..."}``) anywhere in Cedar's JSON policy form."""
    return {node["Value"] for node in _walk(ast)
            if isinstance(node, dict) and isinstance(node.get("Value"), str)}


def _context_usage(ast: dict) -> tuple[dict[str, list[Any]], set[str], bool]:
    """(literals compared with context.<attr>, attrs used any other way, context used whole)."""
    literals: dict[str, list[Any]] = {}
    handled: set[int] = set()
    for node in _walk(ast):
        if not (isinstance(node, dict) and len(node) == 1):
            continue
        (op, arg), = node.items()
        if op not in _COMPARISONS or not isinstance(arg, dict):
            continue
        left, right = arg.get("left"), arg.get("right")
        for a, b in ((left, right), (right, left)):
            if _is_context_attr(a):
                literals.setdefault(a["."]["attr"], []).append(b)
                handled.add(id(a))
    accessed: set[int] = set()
    other: set[str] = set()
    for node in _walk(ast):
        if _is_context_attr(node):
            accessed.add(id(node["."]["left"]))
            if id(node) not in handled:
                other.add(node["."]["attr"])
        elif isinstance(node, dict) and len(node) == 1 and "has" in node:
            inner = node["has"]
            if isinstance(inner, dict) and inner.get("left") == {"Var": "context"}:
                accessed.add(id(inner["left"]))  # `context has x`: constant here
    whole = any(node == {"Var": "context"} and id(node) not in accessed for node in _walk(ast))
    return literals, other, whole


_DT_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?(Z|[+-]\d{4}))?"
)


def _parse_cedar_datetime(text: str) -> int | None:
    """Cedar datetime literal -> epoch ms, or None when not one of Cedar's formats."""
    m = _DT_RE.fullmatch(text)
    if not m:
        return None
    y, mo, d, hh, mi, ss, ms, tz = m.groups()
    try:
        base = np.datetime64(f"{y}-{mo}-{d}", "ms").astype(np.int64)
    except ValueError:
        return None
    if hh is None:
        return int(base)
    h, mn, sec = int(hh), int(mi), int(ss)
    if h > 23 or mn > 59 or sec > 59:
        return None
    val = int(base) + ((h * 60 + mn) * 60 + sec) * 1000 + (int(ms) if ms else 0)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        oh, om = int(tz[1:3]), int(tz[3:5])
        val -= sign * (oh * 60 + om) * 60_000
    return val


def _time_breakpoints(nodes: list[Any]) -> np.ndarray | None:
    """Sorted epoch-ms values of `datetime("...")` literals compared with context.time, each checked
    with Cedar; None when some comparand is anything else (then time is keyed exactly)."""
    values = []
    for b in nodes:
        if not (isinstance(b, dict) and list(b) == ["datetime"] and isinstance(b["datetime"], list)
                and len(b["datetime"]) == 1 and isinstance(b["datetime"][0], dict)
                and isinstance(b["datetime"][0].get("Value"), str)):
            return None
        lit = b["datetime"][0]["Value"]
        ms = _parse_cedar_datetime(lit)
        if ms is None or not _cedar_agrees_datetime(lit, ms):
            return None
        values.append(ms)
    return np.unique(np.array(values, dtype=np.int64))


def _cedar_agrees_datetime(literal: str, ms: int) -> bool:
    # only called on literals matching _DT_RE: no quote or backslash can reach the policy text
    text = f'permit(principal, action, resource) when {{ context.time == datetime("{literal}") }};'
    req = {"principal": {"type": "Terminal", "id": "x"}, "action": dict(ACTION),
           "resource": {"type": "Cell", "id": "x"},
           "context": {"time": {"__extn": {"fn": "datetime", "arg": cedar_datetime(ms)}}, "speed_kmh": 0}}
    try:
        return bool(cedarpy.is_authorized(req, text, []).allowed)
    except Exception:  # pragma: no cover - any surprise means: do not trust the parse
        return False


def _long_breakpoints(nodes: list[Any]) -> np.ndarray | None:
    values = []
    for b in nodes:
        v = b.get("Value") if isinstance(b, dict) and list(b) == ["Value"] else None
        if isinstance(v, bool) or not isinstance(v, int):
            return None
        values.append(v)
    return np.unique(np.array(values, dtype=np.int64))


def _interval_codes(values: np.ndarray, breakpoints: np.ndarray | None) -> np.ndarray:
    """Class of each value among sorted breakpoints: 2*(number below) + (equals one); exact if None."""
    if breakpoints is None:
        return values
    rank = np.searchsorted(breakpoints, values, side="left")
    eq = breakpoints[np.minimum(rank, len(breakpoints) - 1)] == values if len(breakpoints) else False
    return 2 * rank.astype(np.int64) + eq


def _placeholder(k: int, taken: set[str], prefix: str) -> str:
    name = f"{prefix}{k}"
    while name in taken:
        name = "~" + name
    return name


def _factorize(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique values, index of first occurrence, inverse), for int64 arrays."""
    u, first, inv = np.unique(a, return_index=True, return_inverse=True)
    return u, first, inv.ravel()


# --------------------------------------------------------------------------- evaluator

class BulkEvaluator:
    """Vectorised Cedar decisions for one `ServicePolicy`.

    Fast path for fixed terminals (classes computed once, per step only integer gathers)::

        ev = BulkEvaluator(policy)
        pc = ev.principal_classes(terminal_ids, groups)      # once per terminal
        rc = ev.resource_classes(cells, regions)              # once per cell
        allow = ev.decide_classes(pc[req_terminal], rc[req_cell], time=t, speed_kmh=0)

    One-shot convenience: ``ev.decide(terminal_ids, groups, cells, regions, time, speed_kmh)``.
    `time`: a scalar instant or one per request (datetime64, datetime, ISO str, or epoch ms int);
    `speed_kmh`: scalar or per request, floats rounded as `cedar.speed_to_long`;
    funding: ``fc = ev.funding_classes(funded, sponsors, n)`` passed as ``decide_classes(...,
    funding_class=fc)`` (default: funded, no sponsors).
    Deciding policies: ``decide_classes(..., with_reasons=True)`` (and ``decide``) return ``(allow,
    reason)``, ``reason`` an int32 index into ``reason_sets`` (sorted tuples of Cedar policy ids,
    ``diagnostics.reasons``; ``()`` is the default deny).
    Counters: ``cedar_requests`` (requests sent to Cedar so far), ``last_classes`` (distinct classes
    in the last call).
    """

    def __init__(self, policy: ServicePolicy):
        self.policy = policy
        lits = _entity_literals(policy.ast)
        self.named_groups = frozenset(lits.get("Group", ()))
        self.named_regions = frozenset(lits.get("Region", ()))
        self.named_terminals = frozenset(lits.get("Terminal", ()))
        self.named_cells = frozenset(lits.get("Cell", ()))
        literals, other, whole = _context_usage(policy.ast)
        used = set(literals) | other
        unknown = used - {"time", "speed_kmh", "funded", "sponsors"}
        exact_all = whole or bool(unknown)
        self.uses_funded = exact_all or "funded" in used
        #: "unused" (one class), "named" (named sponsors + any other) or "exact" (the whole set)
        self.sponsor_mode = "exact" if exact_all else ("named" if "sponsors" in used else "unused")
        self.named_sponsors = frozenset(_string_literals(policy.ast))
        self._other_sponsor = _placeholder(0, set(self.named_sponsors), "~sponsor")
        self.time_breakpoints = (None if exact_all or "time" in other
                                 else _time_breakpoints(literals.get("time", [])))
        self.speed_breakpoints = (None if exact_all or "speed_kmh" in other
                                  else _long_breakpoints(literals.get("speed_kmh", [])))
        # class tables: key -> class number; per class the Cedar uid id and its parents
        self._p_index: dict[tuple, int] = {}
        self._p_rep: list[tuple[str, tuple[str, ...]]] = []
        self._r_index: dict[tuple, int] = {}
        self._r_rep: list[tuple[str, tuple[str, ...]]] = []
        self._f_index: dict[tuple, int] = {}  # (funded, sponsor class key) -> context class
        self._f_rep: list[tuple[bool, tuple[str, ...]]] = []
        # class key -> 2 * index in reason_sets + allowed
        self._cache: dict[tuple[int, int, int, int, int], int] = {}
        #: the distinct sets of deciding policies seen so far (sorted Cedar policy ids)
        self.reason_sets: list[tuple[str, ...]] = []
        self._reason_index: dict[tuple[str, ...], int] = {}
        self.cedar_requests = 0
        self.last_classes = 0

    # ---- classes of principals and resources

    @staticmethod
    def _classes(ids: Sequence[Any] | np.ndarray, labels: LabelSets, named_labels: frozenset,
                 named_ids: frozenset, index: dict, reps: list, prefix: str, to_id) -> np.ndarray:
        """Class of each item: (its labels the policies name, its id if the policies name it).
        New classes get a representative uid: the literal id, or a placeholder no policy names."""
        lut_keys = [tuple(sorted(named_labels.intersection(s))) for s in labels.sets]
        codes = labels.codes
        if named_ids:
            is_str_array = isinstance(ids, np.ndarray) and ids.dtype.kind in "US"
            arr = (ids if is_str_array else np.array([to_id(x) for x in ids], dtype=object)).astype(str)
            literal = np.isin(arr, np.array(sorted(named_ids)))
        else:
            literal = np.zeros(len(codes), dtype=bool)
        out = np.empty(len(codes), dtype=np.int32)
        plain = ~literal
        if plain.any():
            lut = np.empty(len(lut_keys), dtype=np.int32)
            for j, key in enumerate(lut_keys):
                full = (key, None)
                if full not in index:
                    index[full] = len(reps)
                    reps.append((_placeholder(len(reps), named_ids, prefix), key))
                lut[j] = index[full]
            out[plain] = lut[codes[plain]]
        for i in np.flatnonzero(literal).tolist():
            ident = arr[i]
            full = (lut_keys[codes[i]], ident)
            if full not in index:
                index[full] = len(reps)
                reps.append((ident, lut_keys[codes[i]]))
            out[i] = index[full]
        return out

    def principal_classes(self, terminal_ids: Sequence[str], groups: LabelSets | Sequence[Any]) -> np.ndarray:
        """int32 principal class of each terminal (stable for this evaluator's lifetime)."""
        n = len(terminal_ids)
        g = LabelSets.coerce(groups, n, "groups")
        return self._classes(terminal_ids, g, self.named_groups, self.named_terminals,
                             self._p_index, self._p_rep, "~t", str)

    def resource_classes(self, cells: np.ndarray | Sequence[Any], regions: LabelSets | Sequence[Any]) -> np.ndarray:
        """int32 resource class of each cell (uint64 or hex str cells)."""
        n = len(cells)
        r = LabelSets.coerce(regions, n, "regions")
        if self.named_cells and isinstance(cells, np.ndarray) and cells.dtype.kind in "ui":
            cells = [cell_id(int(c)) for c in cells.tolist()]
        return self._classes(cells, r, self.named_regions, self.named_cells,
                             self._r_index, self._r_rep, "~c", cell_id)

    def funding_classes(self, funded: Any, sponsors: LabelSets | Sequence[Any] | None, n: int) -> np.ndarray:
        """int64 context class of ``funded`` (bool, scalar or one per request) with ``sponsors`` (None:
        the empty set for all; else one set per request, as `LabelSets` or a sequence of sets)."""
        f = np.asarray(funded, dtype=bool)
        if f.ndim > 1 or (f.ndim == 1 and len(f) != n):
            raise PolicyError(f"funded: expected a scalar or {n} values, got shape {f.shape}")
        ls = LabelSets(sets=((),), codes=np.zeros(n, np.int32)) if sponsors is None else \
            LabelSets.coerce(sponsors, n, "sponsors")
        if not self.uses_funded:
            f = np.zeros((), dtype=bool)
        lut = np.empty((len(ls.sets), 2), dtype=np.int64)
        for j, s in enumerate(ls.sets):
            if self.sponsor_mode == "unused":
                key: tuple = ()
            elif self.sponsor_mode == "exact":
                key = tuple(s)
            else:
                named = tuple(x for x in s if x in self.named_sponsors)
                key = (named, len(named) < len(s))
            for fv in (False, True):
                full = (fv, key)
                if full not in self._f_index:
                    self._f_index[full] = len(self._f_rep)
                    rep = key if self.sponsor_mode == "exact" else (
                        () if not key else key[0] + ((self._other_sponsor,) if key[1] else ()))
                    self._f_rep.append((fv, tuple(rep)))
                lut[j, int(fv)] = self._f_index[full]
        return lut[ls.codes, f.astype(np.int64)]

    # ---- decisions

    def _time_speed(self, time: Any, speed_kmh: Any, n: int):
        t = epoch_ms(time)
        t = np.asarray(t, dtype=np.int64)
        s = np.asarray(speed_to_long(speed_kmh), dtype=np.int64)
        for name, a in (("time", t), ("speed_kmh", s)):
            if a.ndim > 1 or (a.ndim == 1 and len(a) != n):
                raise PolicyError(f"{name}: expected a scalar or {n} values, got shape {a.shape}")
        return t, s

    def decide_classes(
        self, principal_class: np.ndarray, resource_class: np.ndarray, time: Any, speed_kmh: Any = 0,
        funding_class: Any = None, *, with_reasons: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """bool allow per request, from per-request principal/resource classes; ``funding_class``
        from :meth:`funding_classes` (None: funded, no sponsors). ``with_reasons``: ``(allow,
        reason)``, reason the int32 index in :attr:`reason_sets` of the policies that decided."""
        pc = np.asarray(principal_class, dtype=np.int64).ravel()
        rc = np.asarray(resource_class, dtype=np.int64).ravel()
        n = len(pc)
        if funding_class is None:
            funding_class = self.funding_classes(True, None, 1)[0]
        fc = np.asarray(funding_class, dtype=np.int64)
        if fc.ndim > 1 or (fc.ndim == 1 and len(fc) != n):
            raise PolicyError(f"funding_class: expected a scalar or {n} values, got shape {fc.shape}")
        if len(rc) != n:
            raise PolicyError(f"{n} principal classes but {len(rc)} resource classes")
        if n == 0:
            self.last_classes = 0
            return (np.zeros(0, dtype=bool), np.zeros(0, np.int32)) if with_reasons else np.zeros(0, dtype=bool)
        t_ms, s_long = self._time_speed(time, speed_kmh, n)
        # time and speed classes (scalars stay scalars)
        t_cls = _interval_codes(np.atleast_1d(t_ms), self.time_breakpoints)
        s_cls = _interval_codes(np.atleast_1d(s_long), self.speed_breakpoints)
        if t_cls.size == 1:
            t_u, t_first, t_inv = t_cls, np.zeros(1, np.int64), None
        else:
            t_u, t_first, t_inv = _factorize(t_cls)
        if s_cls.size == 1:
            s_u, s_first, s_inv = s_cls, np.zeros(1, np.int64), None
        else:
            s_u, s_first, s_inv = _factorize(s_cls)
        if fc.size == 1:
            f_u, f_inv = np.atleast_1d(fc), None
        else:
            f_u, _, f_inv = _factorize(fc)
        n_r, n_t, n_s, n_f = len(self._r_rep), len(t_u), len(s_u), len(f_u)
        key = pc * n_r + rc
        if n_t > 1:
            key = key * n_t + t_inv
        if n_s > 1:
            key = key * n_s + s_inv
        if n_f > 1:
            key = key * n_f + f_inv
        space = len(self._p_rep) * n_r * n_t * n_s * n_f
        if space <= max(4 * n, 1 << 22):  # dense: O(n), no sort
            seen = np.zeros(space, dtype=bool)
            seen[key] = True
            uniq = np.flatnonzero(seen)
            slot = np.empty(space, dtype=np.int32)
            slot[uniq] = np.arange(len(uniq), dtype=np.int32)
            inverse = slot[key]
        else:
            uniq, inverse = np.unique(key, return_inverse=True)
            inverse = inverse.ravel()
        self.last_classes = len(uniq)
        # decode classes
        rest = uniq
        f_i = rest % n_f if n_f > 1 else np.zeros(len(uniq), np.int64)
        rest = rest // n_f if n_f > 1 else rest
        s_i = rest % n_s if n_s > 1 else np.zeros(len(uniq), np.int64)
        rest = rest // n_s if n_s > 1 else rest
        t_i = rest % n_t if n_t > 1 else np.zeros(len(uniq), np.int64)
        rest = rest // n_t if n_t > 1 else rest
        r_i, p_i = rest % n_r, rest // n_r
        t_rep = np.atleast_1d(t_ms)[t_first]
        s_rep = np.atleast_1d(s_long)[s_first]
        answers = np.empty(len(uniq), dtype=np.int32)  # 2 * reason + allowed
        missing = []
        cache = self._cache
        for k, (p, r, ti, si, fi) in enumerate(zip(p_i.tolist(), r_i.tolist(), t_i.tolist(), s_i.tolist(),
                                                   f_i.tolist(), strict=True)):
            ck = (p, r, int(t_u[ti]), int(s_u[si]), int(f_u[fi]))
            hit = cache.get(ck)
            if hit is None:
                missing.append((k, ck, p, r, int(t_rep[ti]), int(s_rep[si]), int(f_u[fi])))
            else:
                answers[k] = hit
        if missing:
            for (k, ck, *_), code in zip(missing, self._ask_cedar([m[2:] for m in missing]), strict=True):
                cache[ck] = code
                answers[k] = code
        codes = answers[inverse]
        allow = (codes & 1).astype(bool)
        return (allow, codes >> 1) if with_reasons else allow

    def _reason(self, reasons: Iterable[str]) -> int:
        key = tuple(sorted(reasons))
        k = self._reason_index.get(key)
        if k is None:
            k = self._reason_index[key] = len(self.reason_sets)
            self.reason_sets.append(key)
        return k

    def _ask_cedar(self, classes: list[tuple[int, int, int, int, int]]) -> list[int]:
        """Cedar's answers (2 * reason set index + allowed) for (principal class, resource class,
        time ms, speed, funding class) representatives.
        Requests go in batches whose entity sets never hold one uid twice with different parents."""
        out: list[int | None] = [None] * len(classes)
        pending = list(range(len(classes)))
        while pending:
            ents: dict[tuple[str, str], tuple[str, ...]] = {}
            batch, later = [], []
            for i in pending:
                p, r, _, _, _ = classes[i]
                tid, groups = self._p_rep[p]
                cid, regions = self._r_rep[r]
                if ents.get(("Terminal", tid), groups) != groups or ents.get(("Cell", cid), regions) != regions:
                    later.append(i)
                    continue
                ents[("Terminal", tid)] = groups
                ents[("Cell", cid)] = regions
                batch.append(i)
            entities = [
                {"uid": {"type": kind, "id": ident}, "attrs": {},
                 "parents": [{"type": "Group" if kind == "Terminal" else "Region", "id": x} for x in parents]}
                for (kind, ident), parents in ents.items()
            ]
            requests = []
            for i in batch:
                p, r, t, s, f = classes[i]
                funded, sponsors = self._f_rep[f]
                requests.append({
                    "principal": {"type": "Terminal", "id": self._p_rep[p][0]},
                    "action": dict(ACTION),
                    "resource": {"type": "Cell", "id": self._r_rep[r][0]},
                    "context": request_context(t, s, funded, sponsors),
                })
            results = cedarpy.is_authorized_batch(requests, self.policy.policy_set, entities)
            self.cedar_requests += len(requests)
            for i, res in zip(batch, results, strict=True):
                out[i] = 2 * self._reason(res.diagnostics.reasons) + bool(res.allowed)
            pending = later
        return out  # type: ignore[return-value]

    def decide(
        self,
        terminal_ids: Sequence[str],
        groups: LabelSets | Sequence[Any],
        cells: np.ndarray | Sequence[Any],
        regions: LabelSets | Sequence[Any],
        time: Any,
        speed_kmh: Any = 0,
        funded: Any = True,
        sponsors: LabelSets | Sequence[Any] | None = None,
        *,
        with_reasons: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """bool allow per request; arrays aligned per request (``with_reasons``: as
        :meth:`decide_classes`)."""
        pc = self.principal_classes(terminal_ids, groups)
        rc = self.resource_classes(cells, regions)
        fc = self.funding_classes(funded, sponsors, len(pc))
        return self.decide_classes(pc, rc, time, speed_kmh, fc, with_reasons=with_reasons)
