"""Which agreements pay for which terminal at which step, vectorized over terminals and steps.

Semantics
---------
* **Covered** (eligible): terminal ``i`` is covered by agreement ``a`` at step ``k`` when ``t_k`` is
  in ``[start, end)`` and the terminal is in ``a``'s group, in its terminal list, or (region
  agreements) its own position at step ``k`` lies in the named region (absent terminals: in none).
* **Months** are calendar months (UTC) of the simulated steps; a terminal-month is billed whole,
  at ``price_per_terminal_month``, when the agreement pays for the terminal at one step or more of
  that month (so the price is per terminal-month, never prorated).
* **Caps**: in each month, an agreement with ``monthly_cap`` pays for at most
  ``floor(monthly_cap / price)`` of the terminals it covers in that month, and one with
  ``total_budget`` for at most ``floor(remaining / price)`` (the budget left after earlier months'
  bills); the terminals paid for are the first covered ones in terminal id order (a stable order,
  so the same terminals stay funded month after month). A cap therefore never overspends. Price 0:
  caps do not bind.
* **Paid** ``paid[a, i, k]``: covered at ``k`` and (uncapped, or among the month's terminals the
  caps allow).
* **Funded** (``context.funded``): paid by some agreement at ``k``, or within that agreement's grace
  period after a step it paid: ``exists a, j <= k: paid[a, i, j] and t_k - t_j <= grace_a``. A
  grace period runs on after an agreement ends, and is not billed.
* **Sponsors** (``context.sponsors``): the sponsors of the agreements that pay at ``k`` (empty in a
  grace period).

Method: terminals that no agreement can tell apart (same groups as the agreements test them, same
terminal-list memberships, same region row over time, same capped selections) share one class;
everything is computed for one representative per class (``[classes, steps]``) and gathered back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from skyfence.errors import FundingError
from skyfence.funding.agreements import Agreement

__all__ = ["FundedSet", "resolve", "month_index", "cap_limit", "MAX_SPONSORS"]

MAX_SPONSORS = 64
_NEVER = np.int64(-(2**62))


def month_index(t_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the calendar months datetime64[M] the steps fall in, the month index of each step)."""
    m = np.asarray(t_utc).astype("datetime64[M]")
    months, idx = np.unique(m, return_inverse=True)
    return months, idx.ravel()


def cap_limit(budget: float, price: float) -> int:
    """The most terminal-months ``budget`` pays at ``price`` (``k * price <= budget`` in floats)."""
    k = int(np.floor(budget / price))
    while k > 0 and k * price > budget:
        k -= 1
    return max(k, 0)


@dataclass
class FundedSet:
    """The outcome of :func:`resolve`. Per terminal: ``codes`` (its class); per class and step:
    ``paid_mask`` (uint64, bit j set when sponsor ``sponsors[j]`` pays) and ``funded_class``;
    per agreement and month: ``eligible`` (terminals covered), ``billed`` (terminals paid for),
    ``limit`` (what the caps allow, -1 = no cap); per agreement: ``terminals`` (distinct terminals
    it ever pays for), ``exhausted`` (month index from which its total budget cannot pay every
    covered terminal, -1 never), ``cap_binding`` (first month its caps leave a covered terminal
    unpaid, -1 never)."""

    agreements: tuple[Agreement, ...]
    sponsors: tuple[str, ...]
    t_utc: np.ndarray
    codes: np.ndarray
    paid_mask: np.ndarray
    funded_class: np.ndarray
    months: np.ndarray
    month_of_step: np.ndarray
    eligible: np.ndarray
    billed: np.ndarray
    limit: np.ndarray
    terminals: np.ndarray
    exhausted: np.ndarray
    cap_binding: np.ndarray

    @property
    def funded(self) -> np.ndarray:
        """bool [n_terminal, n_step]: ``context.funded``."""
        return self.funded_class[self.codes]

    @property
    def sponsor_mask(self) -> np.ndarray:
        """uint64 [n_terminal, n_step]: the paying sponsors as bits of ``sponsors``."""
        return self.paid_mask[self.codes]

    def sponsor_names(self, masks: Iterable[int]) -> list[tuple[str, ...]]:
        """Sponsor name tuples of bit masks."""
        return [tuple(s for j, s in enumerate(self.sponsors) if (int(m) >> j) & 1) for m in masks]

    def sponsors_per_terminal(self) -> list[tuple[str, ...]]:
        """The sponsors that pay for each terminal at some step."""
        ever = np.bitwise_or.reduce(self.paid_mask, axis=1) if self.paid_mask.size else \
            np.zeros(len(self.paid_mask), np.uint64)
        names = self.sponsor_names(ever.tolist())
        return [names[c] for c in self.codes.tolist()]

    def cost(self) -> np.ndarray:
        """float [n_agreement, n_month]: billed terminal-months times the price."""
        price = np.array([a.price_per_terminal_month for a in self.agreements], dtype=float)
        return self.billed * price[:, None] if len(price) else np.zeros((0, len(self.months)))


def _factorize_sets(items: Sequence) -> tuple[np.ndarray, list[frozenset]]:
    index: dict[frozenset, int] = {}
    codes = np.empty(len(items), dtype=np.int64)
    for i, g in enumerate(items):
        key = frozenset([g] if isinstance(g, str) else (g or ()))
        codes[i] = index.setdefault(key, len(index))
    return codes, list(index)


def _unique_rows(cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(index of one row per distinct row, class of every row) of int columns."""
    n = len(cols[0]) if cols else 0
    if not cols or n == 0:
        return np.zeros(min(n, 1), np.int64), np.zeros(n, np.int64)
    m = np.stack([np.asarray(c, dtype=np.int64) for c in cols], axis=1)
    _, first, inv = np.unique(m, axis=0, return_index=True, return_inverse=True)
    return first, inv.ravel()


def resolve(
    agreements: Sequence[Agreement],
    terminal_ids: Sequence[str] | np.ndarray,
    groups: Sequence[Iterable[str]],
    t_utc: np.ndarray,
    *,
    region_codes: np.ndarray | None = None,
    region_sets: Sequence[Iterable[str]] = ((),),
    sponsors: Sequence[str] | None = None,
) -> FundedSet:
    """The funded set of every terminal at every step (see the module's semantics).

    ``groups``: each terminal's groups; ``region_codes``: int, ``[n_terminal]`` (fixed terminals) or
    ``[n_terminal, n_step]``, indices into ``region_sets`` (the named regions holding the
    terminal's position; needed only by region agreements); ``sponsors``: the sponsor order of the
    bit masks (default: the agreements' sponsors, sorted).
    """
    agreements = tuple(agreements)
    t = np.asarray(t_utc).astype("datetime64[ms]")
    t_ms = t.astype(np.int64)
    n_t, n_s, n_a = len(terminal_ids), len(t), len(agreements)
    sp = tuple(sponsors) if sponsors is not None else tuple(sorted({a.sponsor for a in agreements}))
    if len(sp) > MAX_SPONSORS:
        raise FundingError(f"{len(sp)} sponsors: at most {MAX_SPONSORS} are supported")
    bit = {s: j for j, s in enumerate(sp)}
    for a in agreements:
        if a.sponsor not in bit:
            raise FundingError(f"agreement {a.id!r}: unknown sponsor {a.sponsor!r}")
    months, m_idx = month_index(t)
    n_m = len(months)
    m_start = np.searchsorted(m_idx, np.arange(n_m)) if n_s else np.zeros(0, np.int64)
    ids = np.asarray([str(x) for x in terminal_ids], dtype=str) if n_t else np.zeros(0, dtype=str)
    order = np.argsort(ids, kind="stable")
    # static coverage (groups, terminal lists) and region rows -> base classes
    g_codes, g_sets = _factorize_sets(list(groups))
    static_cols: list[np.ndarray] = []
    static_of: dict[int, int] = {}
    for k, a in enumerate(agreements):
        if a.covers == "group":
            lut = np.array([a.target[0] in s for s in g_sets], dtype=bool)
            col = lut[g_codes] if n_t else np.zeros(0, bool)
        elif a.covers == "terminals":
            col = np.isin(ids, np.array(a.target, dtype=str))
        else:
            continue
        static_of[k] = len(static_cols)
        static_cols.append(col)
    static = np.stack(static_cols, axis=1) if static_cols else np.zeros((n_t, 0), bool)
    uses_regions = any(a.covers == "region" for a in agreements)
    region_sets = [frozenset(s) for s in region_sets]
    if uses_regions and region_codes is not None and n_t:
        rc = np.asarray(region_codes, dtype=np.int64)
        if rc.ndim == 1:
            row_class, moving_rows = rc, np.zeros((0, n_s), np.int64)
        else:
            fixed = (rc == rc[:, :1]).all(axis=1) if n_s else np.ones(n_t, bool)
            row_class = np.where(fixed, rc[:, 0] if n_s else 0, 0)
            moving_rows, inv = (np.unique(rc[~fixed], axis=0, return_inverse=True) if (~fixed).any()
                                else (np.zeros((0, n_s), np.int64), np.zeros(0, np.int64)))
            row_class[~fixed] = len(region_sets) + inv.ravel()
    else:
        row_class, moving_rows = np.zeros(n_t, np.int64), np.zeros((0, n_s), np.int64)
    packed = np.packbits(static, axis=1) if static.shape[1] else np.zeros((n_t, 0), np.uint8)
    base_first, base = _unique_rows([row_class] + [packed[:, j] for j in range(packed.shape[1])])

    def region_rows(rows: np.ndarray) -> np.ndarray:
        """[len(rows), n_s] region-set codes of base-class representatives."""
        rcl = row_class[rows]
        out = np.repeat(np.minimum(rcl, len(region_sets) - 1)[:, None], n_s, axis=1) if len(rcl) else \
            np.zeros((0, n_s), np.int64)
        mv = rcl >= len(region_sets)
        if mv.any():
            out[mv] = moving_rows[rcl[mv] - len(region_sets)]
        return out

    rows0 = region_rows(base_first) if uses_regions else None
    windows = [(t_ms >= a.start_utc.astype(np.int64)) & (t_ms < a.end_utc.astype(np.int64)) for a in agreements]

    def covered(k: int, reps: np.ndarray) -> np.ndarray:
        """bool [len(reps), n_s]: agreement k covers base classes `reps` at each step."""
        a = agreements[k]
        if a.covers == "region":
            lut = np.array([a.target[0] in s for s in region_sets], dtype=bool)
            lut = np.concatenate([lut, [False]])  # codes past region_sets never hold a region
            rows = rows0[reps]
            return lut[np.minimum(rows, len(region_sets))] & windows[k][None, :]
        col = static[base_first[reps], static_of[k]]
        return col[:, None] & windows[k][None, :]

    n_base = len(base_first)
    all_base = np.arange(n_base)
    base_count = np.bincount(base, minlength=n_base) if n_t else np.zeros(n_base, np.int64)
    eligible = np.zeros((n_a, n_m), np.int64)
    billed = np.zeros((n_a, n_m), np.int64)
    limit = np.full((n_a, n_m), -1, np.int64)
    exhausted = np.full(n_a, -1, np.int64)
    cap_binding = np.full(n_a, -1, np.int64)
    sel_cols: list[np.ndarray] = []
    sel_of: dict[int, int] = {}
    cover0: dict[int, np.ndarray] = {}
    for k, a in enumerate(agreements):
        cov = covered(k, all_base)
        cover0[k] = cov
        month_any = (np.logical_or.reduceat(cov, m_start, axis=1) if n_s and n_base
                     else np.zeros((n_base, n_m), bool))
        eligible[k] = (month_any * base_count[:, None]).sum(axis=0)
        price = a.price_per_terminal_month
        if not a.capped or price == 0:
            billed[k] = eligible[k]
            continue
        sel_of[k] = len(sel_cols)
        k_cap = cap_limit(a.monthly_cap, price) if a.monthly_cap is not None else None
        remaining = a.total_budget
        for m in range(n_m):
            lim = k_cap if k_cap is not None else np.iinfo(np.int64).max
            if remaining is not None:
                k_tot = cap_limit(remaining, price)
                if k_tot < eligible[k, m] and exhausted[k] < 0:
                    exhausted[k] = m
                lim = min(lim, k_tot)
            limit[k, m] = lim
            if lim < eligible[k, m] and cap_binding[k] < 0:
                cap_binding[k] = m
            e = month_any[base, m][order] if n_t else np.zeros(0, bool)
            chosen = np.zeros(n_t, bool)
            chosen[order] = e & (np.cumsum(e) <= lim)
            billed[k, m] = int(chosen.sum())
            if remaining is not None:
                remaining -= billed[k, m] * price
            sel_cols.append(chosen)
    # final classes: base class + capped selections
    if sel_cols:
        sel = np.stack(sel_cols, axis=1)
        psel = np.packbits(sel, axis=1)
        first, codes = _unique_rows([base] + [psel[:, j] for j in range(psel.shape[1])])
        sel_u = sel[first]
    else:
        first, codes, sel_u = base_first, base, None
    base_u = base[first] if n_t else np.zeros(0, np.int64)
    n_u = len(first) if n_t else 0
    counts_u = np.bincount(codes, minlength=n_u) if n_t else np.zeros(0, np.int64)
    paid_mask = np.zeros((n_u, n_s), np.uint64)
    funded = np.zeros((n_u, n_s), bool)
    terminals = np.zeros(n_a, np.int64)
    for k, a in enumerate(agreements):
        paid = cover0[k][base_u] if n_u else np.zeros((0, n_s), bool)
        if k in sel_of:
            cols = sel_u[:, sel_of[k]:sel_of[k] + n_m]
            paid = paid & cols[:, m_idx]
        if not paid.any():
            continue
        terminals[k] = int(counts_u[paid.any(axis=1)].sum())
        paid_mask |= paid.astype(np.uint64) << np.uint64(bit[a.sponsor])
        if a.grace_s > 0:
            last = np.maximum.accumulate(np.where(paid, t_ms[None, :], _NEVER), axis=1)
            funded |= (last != _NEVER) & (t_ms[None, :] - last <= int(round(a.grace_s * 1000)))
        else:
            funded |= paid
    return FundedSet(agreements, sp, t, codes.astype(np.int32), paid_mask, funded, months, m_idx,
                     eligible, billed, limit, terminals, exhausted, cap_binding)
