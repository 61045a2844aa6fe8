"""The service pipeline: coverage AND policy, per H3 cell, per terminal, per time step.

Pipeline (one module each): elements -> :func:`~skyfence.orbits.propagate.propagate` (ECEF) ->
:func:`~skyfence.links.visibility.count_visible` (sparse KD-tree visibility, exact elevation test) for
cell centres and for each terminal's own coordinates -> Cedar decisions with the exact bulk
evaluator (:class:`~skyfence.policy.evaluate.BulkEvaluator`) -> states ``served`` (a satellite above
the mask AND allowed), ``denied`` (visible but forbidden), ``uncovered`` (nothing above the mask),
``absent`` (a mobile terminal outside its track's time span).

Conventions
-----------
* Time is processed in chunks of steps (bounded memory: satellites x chunk x 3 floats).
* **Cell decisions** use an anonymous probe principal ``Terminal::"~cell-probe"`` in the scenario's
  ``ground.cell_groups`` (default ``["public"]``), speed 0, at the step's time, with the cell as
  resource in every ``[regions]`` region that contains it.
* **Cell membership** of regions follows ``ground.cell_membership`` (``"overlap"``, the default:
  any part of the cell in the region, so a geofence leaves no gap at its border; ``"centre"``;
  ``"within"``), for the ground's cells and for the regions' cells alike.
* **Terminal decisions** use the terminal's id and groups; its resource is the H3 cell (at the
  scenario's resolution) that contains the terminal's own position at that step, whose parents are
  the regions holding that position itself (exact point in polygon, great-circle distance for
  circles: :meth:`~skyfence.policy.regionset.RegionSet.point_region_labels`), at every step for
  mobile terminals. Visibility is computed at the terminal's own coordinates, not its cell's centre.
* ``speed_kmh`` in the Cedar context is the mobile terminal's ground speed (0 for fixed ones).
* **Observers** (``[observers]``): at each step, whether an imaging satellite can image each cell
  centre and terminal position (:func:`skyfence.imaging.observed.observed_steps`, same time grid).
* **Deciding policies**: for every terminal and step, the policies that decided its request (Cedar's
  ``diagnostics.reasons``: the permits that allowed it or the forbids that denied it; none: the
  default deny), as an index into ``Decisions.reason_labels`` (-1: no policy in force).
* ``funded`` / ``sponsors`` in the Cedar context come from the scenario's ``[funding]`` agreements
  (:func:`resolve_funding`, :mod:`skyfence.funding.resolve`), region agreements testing each
  terminal's own position at each step; without ``[funding]`` every terminal is funded with no
  sponsors. The cell probe is always funded with no sponsors.

Size: about 410 lines: the three records (Ground, Visibility, Decisions) and the stages that fill
them read each other's fields; kept together so the conventions above hold in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skyfence.coverage.stats import service_states
from skyfence.errors import ScenarioError
from skyfence.service.scenario import Scenario

PROBE_ID = "~cell-probe"


@dataclass
class Ground:
    """Everything on the ground of a scenario, resolved once (independent of the policy)."""

    regions: object  # RegionSet
    region_geom: object  # shapely geometry of the ground region
    cells: np.ndarray  # uint64 [n_cell]
    cell_lat_deg: np.ndarray
    cell_lon_deg: np.ndarray
    cell_area_km2: np.ndarray
    terminals: object  # Terminals
    t_utc: np.ndarray
    step_s: float
    min_elevation_deg: float
    cell_membership: str = "overlap"  # which cells belong to a region (geo.regions.CELL_MEMBERSHIP)
    terminal_membership: str = "point-in-polygon"  # how a terminal's regions are decided
    elements_source: str = ""  # filled in by compute_visibility
    n_sat: int = 0


@dataclass
class Visibility:
    """Satellites in view: cells ``[n_cell, n_time]`` and terminals ``[n_term, n_time]``."""

    cell_counts: np.ndarray
    terminal_counts: np.ndarray
    terminal_cells: np.ndarray  # uint64 [n_term, n_time] (0 where absent)
    present: np.ndarray  # bool [n_term, n_time]
    sgp4_errors: dict[int, int] = field(default_factory=dict)
    cell_observed: np.ndarray | None = None  # bool [n_cell, n_time]: an observer can image it (None: no [observers])
    terminal_observed: np.ndarray | None = None  # bool [n_term, n_time]
    observers: dict | None = None  # {group: {"kind", "satellites"}} of the scenario's [observers]


@dataclass
class Decisions:
    """Policy outcome for one policy set."""

    cell_allowed: np.ndarray  # bool [n_cell, n_time]
    terminal_allowed: np.ndarray  # bool [n_term, n_time]
    cell_states: np.ndarray  # int8 [n_cell, n_time]
    terminal_states: np.ndarray  # int8 [n_term, n_time]
    policy_sources: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    funding: object = None  # skyfence.funding.resolve.FundedSet, or None without [funding]
    terminal_reasons: np.ndarray | None = None  # int16 [n_term, n_time]: index in reason_labels, -1 no policy
    reason_labels: tuple[tuple[str, ...], ...] = ()  # deciding policies as "file:line (@id)"; () default deny


def _region_spec(spec, named: dict):
    """Replace [regions] keys inside a ground.region spec by their own specs."""
    if isinstance(spec, str) and spec in named:
        return named[spec]
    if isinstance(spec, list):
        return [_region_spec(s, named) for s in spec]
    return spec


def build_ground(sc: Scenario) -> Ground:
    """Resolve regions, cells and terminals of a scenario."""
    from skyfence.errors import RegionError
    from skyfence.geo.cells import cell_areas_km2, cell_centres
    from skyfence.geo.regions import region_cells, resolve_region
    from skyfence.ground.fleet import synthetic_fleet
    from skyfence.ground.terminals import Terminals, read_terminals
    from skyfence.ground.tracks import read_tracks
    from skyfence.links import default_min_elevation_deg
    from skyfence.orbits.frames import time_grid
    from skyfence.policy.regionset import TERMINAL_MEMBERSHIP, RegionSet

    t = time_grid(sc.start, sc.duration_s, sc.step_s)
    try:
        regions = RegionSet.from_specs(sc.regions, sc.h3_resolution, base_dir=sc.base_dir,
                                       cell_membership=sc.cell_membership)
    except RegionError as exc:
        raise ScenarioError(f"{sc.source}: [regions]: {exc}") from None
    try:
        geom = resolve_region(_region_spec(sc.region, sc.regions), base_dir=sc.base_dir)
    except RegionError as exc:
        raise ScenarioError(f"{sc.source}: ground.region: {exc}") from None
    cells = region_cells(geom, sc.h3_resolution, sc.cell_membership)
    if len(cells) == 0:
        raise ScenarioError(f"{sc.source}: ground.region has no H3 cell ({sc.cell_membership}) at resolution "
                            f"{sc.h3_resolution}")
    lat, lon = cell_centres(cells)
    parts = []
    for f in sc.terminals:
        parts.append(read_terminals(f, base_dir=sc.base_dir, default_group="default"))
    for f in sc.tracks:
        parts.append(read_tracks(f, t, base_dir=sc.base_dir, default_group="mobile"))
    if sc.fleet:
        fl = dict(sc.fleet)
        fleet_geom = geom
        if "region" in fl:
            try:
                fleet_geom = resolve_region(_region_spec(fl["region"], sc.regions), base_dir=sc.base_dir)
            except RegionError as exc:
                raise ScenarioError(f"{sc.source}: ground.fleet.region: {exc}") from None
        parts.append(
            synthetic_fleet(
                int(fl["n"]), fleet_geom, seed=int(fl.get("seed", 0)), group=fl.get("group", "fleet"),
                rural_share=float(fl.get("rural_share", 0.1)), id_prefix=fl.get("id_prefix", "T"),
            )
        )  # fmt: skip
    terms = Terminals.concat(parts, t) if parts else Terminals.concat([], t)
    el = sc.elements if isinstance(sc.elements, str) else sc.elements[0]
    mask = sc.min_elevation_deg if sc.min_elevation_deg is not None else default_min_elevation_deg(el)
    return Ground(regions, geom, cells, lat, lon, cell_areas_km2(cells), terms, t, sc.step_s,
                  float(mask), sc.cell_membership, TERMINAL_MEMBERSHIP)  # fmt: skip


def compute_visibility(
    sc: Scenario, ground: Ground, *, chunk_steps: int = 60, progress: Callable[[int], None] | None = None,
    elements=None,
) -> Visibility:
    """Propagate the constellation chunk by chunk and count satellites in view of every cell and
    terminal at every step (``elements``: the scenario's elements already loaded, else loaded here)."""
    from skyfence.geo.cells import cell_of
    from skyfence.imaging.observed import Observers
    from skyfence.links import count_visible, ground_points
    from skyfence.orbits.catalog import load_elements
    from skyfence.orbits.propagate import propagate

    els = elements if elements is not None else load_elements(sc.elements, skip_invalid=sc.skip_invalid)
    ground.n_sat, ground.elements_source = len(els), els.source
    t = ground.t_utc
    n_t = len(t)
    terms = ground.terminals
    n_term = len(terms)
    cell_g, cell_up = ground_points(ground.cell_lat_deg, ground.cell_lon_deg)
    t_lat, t_lon = terms.positions(n_t)  # [n_term, n_time], NaN where absent
    present = terms.present(n_t)
    # rows that never move and are always present are computed as fixed points
    fixed = present.all(axis=1) & (t_lat == t_lat[:, :1]).all(axis=1) & (t_lon == t_lon[:, :1]).all(axis=1)
    n_fixed = int(fixed.sum())
    fixed_g, fixed_up = ground_points(t_lat[fixed, 0], t_lon[fixed, 0])
    n_cell = len(ground.cells)
    fixed_pts, fixed_pts_up = np.concatenate([cell_g, fixed_g]), np.concatenate([cell_up, fixed_up])
    cell_counts = np.zeros((len(ground.cells), n_t), np.int16)
    term_counts = np.zeros((n_term, n_t), np.int16)
    errors: dict[int, int] = {}
    obs = Observers.load(sc.observers, sc.source) if sc.observers else None
    cell_obs, term_obs = (np.zeros((n_cell, n_t), bool), np.zeros((n_term, n_t), bool)) if obs else (None, None)
    for a in range(0, n_t, chunk_steps):
        b = min(a + chunk_steps, n_t)
        eph = propagate(els, t[a:b])
        for code, n in eph.error_counts().items():
            errors[code] = errors.get(code, 0) + n
        sat = eph.r_ecef_km
        # cells and fixed terminals in one call: one KD-tree query per step for all fixed points
        both = count_visible(fixed_pts, fixed_pts_up, sat, ground.min_elevation_deg)
        cell_counts[:, a:b] = both[:n_cell]
        term_counts[fixed, a:b] = both[n_cell:]
        if obs:
            seen = obs.steps(fixed_pts, fixed_pts_up, t[a:b])
            cell_obs[:, a:b], term_obs[fixed, a:b] = seen[:n_cell], seen[n_cell:]
        if n_term - n_fixed:
            g, up = ground_points(t_lat[~fixed, a:b], t_lon[~fixed, a:b])
            term_counts[~fixed, a:b] = count_visible(g, up, sat, ground.min_elevation_deg)
            if obs:
                term_obs[~fixed, a:b] = obs.steps(g, up, t[a:b])
        if progress:
            progress(b - a)
    # the H3 cell of each terminal at each step (membership of regions is by that cell)
    res = ground.regions.resolution
    tc = np.zeros((n_term, n_t), np.uint64)
    if n_fixed:
        tc[fixed] = cell_of(t_lat[fixed, 0], t_lon[fixed, 0], res)[:, None]
    moving = present & ~fixed[:, None]
    if moving.any():
        tc[moving] = cell_of(t_lat[moving], t_lon[moving], res)
    return Visibility(cell_counts, term_counts, tc, present, errors, cell_obs, term_obs, obs.groups if obs else None)


def load_policy_segments(
    sc: Scenario, ground: Ground, policy_files: list[str] | None = None, *,
    base_dir: Path | None = None, policy_log: str | None = None,
) -> list[tuple]:
    """[(ServicePolicy or None, RegionSet, step indices)]: which policy applies at which steps.

    The scenario's own ``[policy] files`` / ``[policy] log`` by default, or ``policy_files``
    (relative to ``base_dir``, default the scenario's folder) / ``policy_log``. Every file is read
    and validated here (Cedar errors name the file and line), so callers load policies before any
    propagation and pass the result to :func:`decide`.

    From policy files: one segment. From a governance log (``[policy] log``): the log is verified
    and replayed, each step getting the policy set in force at its time (none before the first
    enactment: everything covered is served); the log's named regions join the scenario's.
    """
    from skyfence.policy.cedar import ServicePolicy, load_policies
    from skyfence.policy.regionset import RegionSet

    if policy_files is None and policy_log is None:
        files, log = sc.policy_files, sc.policy_log
    else:
        files, log = list(policy_files or []), policy_log
    steps = np.arange(len(ground.t_utc))
    if log:
        from skyfence.errors import SkyfenceError
        from skyfence.governance.replay import policy_segments

        try:
            replayed = policy_segments(log, ground.t_utc)
        except SkyfenceError as exc:
            raise ScenarioError(f"{sc.source}: policy.log {log}: {exc}") from None
        segs = []
        for p, idx in replayed:
            if p is None:
                segs.append((None, ground.regions, idx))
                continue
            regions = RegionSet.from_specs({**sc.regions, **p.regions}, ground.regions.resolution, base_dir=sc.base_dir,
                                           cell_membership=ground.regions.cell_membership)
            policy = ServicePolicy.from_text(p.cedar, source=f"{log}#entry-{p.index}")
            segs.append((policy, regions, idx))
        return segs
    if not files:
        return [(None, ground.regions, steps)]
    paths = [str((base_dir or sc.base_dir) / f) if not Path(f).is_absolute() else f for f in files]
    return [(load_policies(paths), ground.regions, steps)]


def resolve_funding(sc: Scenario, ground: Ground, agreements: list | None = None):
    """The funded set (:class:`~skyfence.funding.resolve.FundedSet`) of the scenario's terminals at
    every step, from its ``[funding]`` agreements or ``agreements`` (then added to the scenario's
    sponsors); None without ``[funding]`` and ``agreements``. Agreements naming a group no terminal
    is in, a terminal id that does not exist or an unknown region are errors here, before any
    propagation."""
    from skyfence.errors import FundingError
    from skyfence.funding.agreements import validate_agreements
    from skyfence.funding.resolve import resolve

    if sc.sponsors is None and agreements is None:
        return None
    ags = list(sc.agreements if agreements is None else agreements)
    sponsors = list(sc.sponsors or [])
    if sc.funding_log:
        from skyfence.errors import SkyfenceError
        from skyfence.governance.funding import agreements_in_log

        try:
            log_sponsors, log_agreements, _ = agreements_in_log(sc.funding_log)
        except SkyfenceError as exc:
            raise ScenarioError(f"{sc.source}: funding.log {sc.funding_log}: {exc}") from None
        sponsors += [x for x in log_sponsors if x not in sponsors]
        if agreements is None:
            ags = log_agreements
    terms = ground.terminals
    try:
        validate_agreements(ags, sponsors=sponsors if agreements is None else sponsors + [a.sponsor for a in ags],
                            groups={g for gs in terms.groups for g in gs}, regions=set(ground.regions.names),
                            terminals={str(i) for i in terms.ids})  # fmt: skip
    except FundingError as exc:
        raise ScenarioError(f"{sc.source}: [funding]: {exc}") from None
    n_t = len(ground.t_utc)
    codes, sets = ((np.zeros(len(terms), np.int32), ((),)) if not any(a.covers == "region" for a in ags)
                   else _terminal_labels(ground.regions, terms.present(n_t), *terms.positions(n_t)))
    sp = sorted(set(sponsors) | {a.sponsor for a in ags})
    return resolve(ags, [str(i) for i in terms.ids], list(terms.groups), ground.t_utc,
                   region_codes=codes, region_sets=sets, sponsors=sp)


def _funding_classes(ev, funding) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes int32 [n_term, n_segment] of each terminal's sponsor set per funding segment, lut
    int64 [n_sets, 2] of the evaluator's funding class by (set, funded)), or None."""
    from skyfence.policy.evaluate import LabelSets

    if funding is None:
        return None
    masks, inv = np.unique(funding.mask, return_inverse=True)
    names = funding.sponsor_names(masks.tolist())
    ls = LabelSets(sets=tuple(names), codes=np.arange(len(names), dtype=np.int32))
    lut = np.stack([ev.funding_classes(False, ls, len(names)), ev.funding_classes(True, ls, len(names))], axis=1)
    return inv.reshape(funding.mask.shape).astype(np.int32), lut


def _terminal_labels(rs, present: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(codes int32 [n_term, n_time], label sets): the regions holding each terminal's own position
    at each step (RegionSet.point_region_labels), fixed terminals tested once; () where absent."""
    n_term, n_t = present.shape
    codes = np.zeros((n_term, n_t), np.int32)
    index: dict[tuple[str, ...], int] = {(): 0}
    if n_term == 0:
        return codes, tuple(index)
    fixed = present.all(axis=1) & (lat == lat[:, :1]).all(axis=1) & (lon == lon[:, :1]).all(axis=1)
    moving = present & ~fixed[:, None]
    for rows, la, lo in ((fixed, lat[fixed, 0], lon[fixed, 0]), (moving, lat[moving], lon[moving])):
        if not rows.any():
            continue
        ls = rs.point_region_labels(la, lo)
        remap = np.array([index.setdefault(t, len(index)) for t in ls.sets], dtype=np.int32)
        codes[rows] = remap[ls.codes][:, None] if rows.ndim == 1 else remap[ls.codes]
    return codes, tuple(index)


def _terminal_resource_classes(ev, cells: np.ndarray, codes: np.ndarray, sets: tuple) -> np.ndarray:
    """Resource class of every (terminal, step): its H3 cell (the Cedar entity) with the regions of
    the terminal's own position as the cell's parents; one class lookup per distinct pair."""
    from skyfence.policy.evaluate import LabelSets

    cell_u, cell_inv = np.unique(cells, return_inverse=True)
    key = cell_inv.reshape(cells.shape).astype(np.int64) * len(sets) + codes
    key_u, key_inv = np.unique(key, return_inverse=True)
    rc = ev.resource_classes(cell_u[key_u // len(sets)], LabelSets(sets=sets, codes=(key_u % len(sets)).astype(np.int32)))
    return rc[key_inv].reshape(cells.shape)


def decide(sc: Scenario, ground: Ground, vis: Visibility, policy_files: list[str] | None = None,
           *, base_dir: Path | None = None, policy_log: str | None = None,
           segments: list[tuple] | None = None, funding=None) -> Decisions:
    """Apply a Cedar policy set to every cell and terminal at every step: ``segments`` from
    :func:`load_policy_segments` if given, else the scenario's own (``[policy] files`` or
    ``[policy] log``) or ``policy_files`` / ``policy_log``, loaded here; ``funding`` from
    :func:`resolve_funding` (None: every terminal funded, no sponsors)."""
    from skyfence.policy.evaluate import BulkEvaluator, LabelSets

    log = sc.policy_log if policy_files is None and policy_log is None else policy_log
    n_cell, n_t = vis.cell_counts.shape
    n_term = vis.terminal_counts.shape[0]
    c_allow = np.ones((n_cell, n_t), bool)
    t_allow = np.ones((n_term, n_t), bool)
    t_reason, labels = np.full((n_term, n_t), -1, np.int16), {}  # labels: deciding policies -> index
    sources: list[str] = []
    warnings: list[str] = []
    terms = ground.terminals
    speeds = terms.speeds_kmh(n_t) if n_term and terms.mobile else None
    t_lat, t_lon = terms.positions(n_t)
    t_labels: dict[int, tuple] = {}  # per region set: the regions of every (terminal, step)
    if segments is None:
        segments = load_policy_segments(sc, ground, policy_files, base_dir=base_dir, policy_log=policy_log)
    for policy, rs, idx in segments:
        if policy is None:
            continue
        sources += [x for x in policy.sources if x not in sources]
        warnings += [w for w in policy.warnings if w not in warnings]
        ev = BulkEvaluator(policy)
        probe = ev.principal_classes([PROBE_ID], LabelSets.from_lists([tuple(sc.cell_groups)]))
        cell_rc = ev.resource_classes(ground.cells, rs.cell_region_labels(ground.cells))
        probe_c = np.repeat(probe, n_cell)
        if n_term:
            t_pc = ev.principal_classes([str(i) for i in terms.ids], LabelSets.from_lists(list(terms.groups)))
            if id(rs) not in t_labels:
                t_labels[id(rs)] = _terminal_labels(rs, vis.present, t_lat, t_lon)
            t_rc = _terminal_resource_classes(ev, vis.terminal_cells, *t_labels[id(rs)])
            t_fc = _funding_classes(ev, funding)
        for k in idx:
            tk = ground.t_utc[k]
            c_allow[:, k] = ev.decide_classes(probe_c, cell_rc, tk, 0)
            if n_term:
                sp = 0 if speeds is None else np.nan_to_num(speeds[:, k])
                fc = None if t_fc is None else \
                    t_fc[1][t_fc[0][:, funding.segment_of_step[k]], funding.funded_at(k).astype(np.int64)]
                t_allow[:, k], reason = ev.decide_classes(t_pc, t_rc[:, k], tk, sp, fc, with_reasons=True)
                lut = [labels.setdefault(tuple(policy.explain(r)), len(labels)) for r in ev.reason_sets]
                t_reason[:, k] = np.asarray(lut, np.int16)[reason]
    c_states = service_states(vis.cell_counts, c_allow)
    t_states = service_states(vis.terminal_counts, t_allow, present=vis.present)
    return Decisions(c_allow, t_allow, c_states, t_states, tuple(sources or ([log] if log else [])), tuple(warnings),
                     funding, t_reason, tuple(labels))
