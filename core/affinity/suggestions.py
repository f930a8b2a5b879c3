"""Next-product suggestions: for each account, the products it lacks that accounts like it own.

The rule matching runs once per distinct (owned-product set, segment) pair — tens of
thousands at 100,000 accounts — and only the account-specific parts (how long the
account has held the antecedent, readiness, buyer contacts) are computed per account,
as whole-array operations. ``suggest_loop`` is the same definition written as a plain
loop over accounts: slow, kept to prove the fast one right and to measure it.

Score (0-100) = 100 x confidence x min(lift, cap) / cap x timing x readiness, capped at
100, where cap is ``suggestions.lift_cap``; timing rises from ``suggestions.early_factor``
when the account has just completed the antecedent to 1 once it has held it for the
typical time-to-attach (1 when that time is unknown); readiness is
``suggestions.ready_factor`` / ``suggestions.not_ready_factor`` when the readiness frame
says ready / not ready, else 1. The best rule for a product is the applicable one with the
highest confidence x capped lift (then confidence, count, fewer antecedents, antecedent
ids); the account's segment rules are used when they have an applicable rule for the
product, else the rules over all accounts. Products without an applicable rule are not
suggested, nor owned or sunset products.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.affinity.rules import holding_days
from core.frames import SEGMENTS, Portfolio, as_timestamp, positions_in, unique_rows

SUGGESTION_COLUMNS = ["account_id", "product_id", "rank", "score", "confidence", "lift", "reason"]
DETAIL_COLUMNS = [
    "rule_antecedents",
    "rule_segment",
    "support_count",
    "department",
    "has_department_contact",
    "months_held",
    "typical_gap_months",
    "ready",
    "timing_due",
]
COLUMN_TYPES = {
    "account_id": "str",
    "product_id": "str",
    "rank": "int64",
    "score": "float64",
    "confidence": "float64",
    "lift": "float64",
    "reason": "str",
    "rule_antecedents": "str",
    "rule_segment": "str",
    "support_count": "int64",
    "department": "str",
    "has_department_contact": "bool",
    "months_held": "float64",
    "typical_gap_months": "float64",
    "ready": "bool",
    "timing_due": "bool",
}
SUGGESTION_SETTINGS = (
    "suggestions.top_k",
    "suggestions.lift_cap",
    "suggestions.early_factor",
    "suggestions.ready_factor",
    "suggestions.not_ready_factor",
)
DAYS_PER_MONTH = 365.25 / 12
NO_RULE = np.iinfo(np.int32).max


@dataclass
class _Rules:
    """Single-consequent rules of every rule set, in priority order (a lower row wins)."""

    rule_set: np.ndarray  # 'all' or a segment
    antecedents: np.ndarray  # ';'-joined ids
    slots: np.ndarray  # (rules, max antecedent size) product indices, -1 padded, ascending
    consequent: np.ndarray  # product index
    confidence: np.ndarray
    lift: np.ndarray
    count: np.ndarray
    strength: np.ndarray


@dataclass
class _Book:
    """Everything per account that a suggestion reads, aligned to sorted account ids and product ids."""

    accounts: np.ndarray
    products: np.ndarray
    names: np.ndarray
    departments: np.ndarray  # display name or None
    owned: np.ndarray  # (accounts, products) bool
    segment: np.ndarray  # index into SEGMENTS, len(SEGMENTS) when unknown
    held_days: np.ndarray  # days since the owned product was first held; NaN when not owned
    dept_contact: np.ndarray  # (accounts, products) bool: a contact in the product's department
    ready_state: np.ndarray  # (accounts, products) int8: -1 unknown, 0 not ready, 1 ready
    ready_reason: np.ndarray  # (accounts, products) index into ready_texts, 0 = none
    ready_texts: list[str]
    sunset: np.ndarray  # (products,) bool
    gap_days: np.ndarray  # (products, products) median days from buying a to buying b; NaN unknown


def suggest(
    portfolio: Portfolio,
    rules_all: pd.DataFrame,
    rules_by_segment: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
    attach: pd.DataFrame | None,
    roles: pd.DataFrame | None,
    seq: pd.DataFrame | None,
    as_of: Any,
    settings: Mapping[str, Any],
    readiness: pd.DataFrame | None = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """The top ``suggestions.top_k`` products each account lacks, best first, each with one sentence why.

    Args:
        rules_all: rules over all accounts (:func:`core.affinity.rules.association_rules_frame`).
        rules_by_segment: :func:`core.affinity.rules.segment_rules` (or a dict segment -> rules).
        attach: the attach table; a single-product rule's confidence already is its attach rate, so
            it is only checked, not read.
        roles: :func:`core.affinity.roles.product_roles`; 'sunset' products are never suggested.
        seq: :func:`core.affinity.sequencing.time_to_attach`, for the typical gap.
        readiness: optional account_id, product_id, ready (bool), readiness_reason (str).
        reasons: False leaves every ``reason`` empty, for a replay that only ranks (the sentences
            are about a quarter of a replay's peak memory at 100,000 accounts).

    Returns:
        DataFrame with columns ``account_id``, ``product_id``, ``rank`` (1 = best), ``score``
        (0-100), ``confidence``, ``lift``, ``reason``, then ``rule_antecedents``, ``rule_segment``
        ('all' or the segment whose rule was used), ``support_count`` (accounts owning the rule's
        products), ``department``, ``has_department_contact``, ``months_held`` (of the antecedent
        product bought last), ``typical_gap_months``, ``ready`` (the readiness signal when given
        for the pair, else ``timing_due``) and ``timing_due`` (held at least the typical gap);
        sorted by account_id, rank.
    """
    book, rules, top_k = _prepare(
        portfolio, rules_all, rules_by_segment, attach, roles, seq, as_of, settings, readiness
    )
    return _suggest_arrays(book, rules, top_k, settings, reasons)


def suggest_loop(
    portfolio: Portfolio,
    rules_all: pd.DataFrame,
    rules_by_segment: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
    attach: pd.DataFrame | None,
    roles: pd.DataFrame | None,
    seq: pd.DataFrame | None,
    as_of: Any,
    settings: Mapping[str, Any],
    readiness: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`suggest` computed one account at a time in plain Python: for tests and the benchmark only.

    Returns:
        The same frame as :func:`suggest`.
    """
    book, rules, top_k = _prepare(
        portfolio, rules_all, rules_by_segment, attach, roles, seq, as_of, settings, readiness
    )
    early, ready_f, not_ready_f = _factors(settings)
    by_target: dict[tuple[str, int], list[tuple[int, frozenset[int]]]] = {}
    for index in range(len(rules.consequent)):
        antecedent = frozenset(int(p) for p in rules.slots[index] if p >= 0)
        by_target.setdefault((str(rules.rule_set[index]), int(rules.consequent[index])), []).append(
            (index, antecedent)
        )
    texts = _Texts(book, rules)
    records = []
    for row, account in enumerate(book.accounts):
        owned = {p for p in range(len(book.products)) if book.owned[row, p]}
        segment = SEGMENTS[book.segment[row]] if book.segment[row] < len(SEGMENTS) else None
        found = []
        for product in range(len(book.products)):
            if product in owned or book.sunset[product]:
                continue
            rule = None
            for rule_set in ([segment] if segment else []) + ["all"]:
                for index, antecedent in by_target.get((rule_set, product), []):
                    if antecedent <= owned:
                        rule = index
                        break
                if rule is not None:
                    break
            if rule is None:
                continue
            antecedent = sorted(_antecedent_of(rules, rule))
            last = min(antecedent, key=lambda p: (book.held_days[row, p], p))
            days = float(book.held_days[row, last])
            gap = float(book.gap_days[last, product])
            due = bool(np.isnan(gap) or days >= gap)
            timing = 1.0 if due or gap <= 0 else min(1.0, early + (1 - early) * days / gap)
            state = int(book.ready_state[row, product])
            factor = ready_f if state == 1 else not_ready_f if state == 0 else 1.0
            score = min(100.0, 100.0 * float(rules.strength[rule]) * timing * factor)
            found.append((score, product, rule, last, days, gap, due, state))
        found.sort(key=lambda item: (-item[0], item[1]))
        for rank, (score, product, rule, last, days, gap, due, state) in enumerate(found[:top_k], start=1):
            contact = bool(book.dept_contact[row, product])
            reason = (
                texts.rule_phrase(rule)
                + "; this account has had "
                + str(book.names[last])
                + " for "
                + months_text(int(np.rint(days / DAYS_PER_MONTH)))
                + texts.gap_piece(gap)
                + texts.department_piece(product, contact)
                + texts.ready_piece(int(book.ready_reason[row, product]))
                + "."
            )
            records.append(
                {
                    "account_id": account,
                    "product_id": book.products[product],
                    "rank": rank,
                    "score": score,
                    "confidence": float(rules.confidence[rule]),
                    "lift": float(rules.lift[rule]),
                    "reason": reason,
                    "rule_antecedents": rules.antecedents[rule],
                    "rule_segment": rules.rule_set[rule],
                    "support_count": int(rules.count[rule]),
                    "department": book.departments[product],
                    "has_department_contact": contact,
                    "months_held": float(np.round(days / DAYS_PER_MONTH, 1)),
                    "typical_gap_months": float(np.round(gap / DAYS_PER_MONTH, 1)),
                    "ready": state == 1 if state >= 0 else due,
                    "timing_due": due,
                }
            )
    return _typed(pd.DataFrame.from_records(records, columns=list(COLUMN_TYPES)))


def _antecedent_of(rules: _Rules, rule: int) -> list[int]:
    return [int(p) for p in rules.slots[rule] if p >= 0]


def _suggest_arrays(
    book: _Book, rules: _Rules, top_k: int, settings: Mapping[str, Any], reasons: bool = True
) -> pd.DataFrame:
    n_accounts, n_products = book.owned.shape
    if n_accounts == 0 or len(rules.consequent) == 0 or n_products == 0 or top_k <= 0:
        return _typed(pd.DataFrame(columns=list(COLUMN_TYPES)))
    early, ready_f, not_ready_f = _factors(settings)
    groups, group_owned, group_segment = _groups(book)
    choice = _best_rules(group_owned, group_segment, rules)
    strength = np.where(
        choice != NO_RULE, rules.strength[np.minimum(choice, len(rules.strength) - 1)], -np.inf
    )
    strength[group_owned | book.sunset[None, :]] = -np.inf
    factors = [1.0] + [
        f for f, state in ((ready_f, 1), (not_ready_f, 0)) if (book.ready_state == state).any()
    ]
    group_of, product = np.nonzero(_could_rank(strength, top_k, early, min(factors), max(factors)))
    rule = choice[group_of, product]

    per_group = np.bincount(group_of, minlength=len(group_owned))
    counts = per_group[groups]
    acc = np.repeat(np.arange(n_accounts), counts)
    within = _ranges(counts)
    picked = np.repeat((np.cumsum(per_group) - per_group)[groups], counts) + within
    product, rule = product[picked], rule[picked]

    last, days = _last_antecedent(book.held_days, rules.slots[rule], acc)
    gap = book.gap_days[last, product]
    due = np.isnan(gap) | (days >= gap)
    ramp = early + (1 - early) * days / np.where(due | (gap <= 0), 1.0, gap)
    timing = np.where(due | (gap <= 0), 1.0, np.minimum(1.0, ramp))
    state = book.ready_state[acc, product]
    factor = np.where(state == 1, ready_f, np.where(state == 0, not_ready_f, 1.0))
    score = np.minimum(100.0, 100.0 * rules.strength[rule] * timing * factor)

    board = np.full((n_accounts, max(int(counts.max(initial=0)), 1)), -np.inf)
    board[acc, within] = np.where(np.isnan(score), -np.inf, score)  # NaN: sorted below -inf, never chosen
    order, valid = _top_columns(board, top_k)
    chosen = ((np.cumsum(counts) - counts)[:, None] + order)[valid]
    ranks = np.broadcast_to(np.arange(1, order.shape[1] + 1), order.shape)[valid]

    acc, product, rule, last = acc[chosen], product[chosen], rule[chosen], last[chosen]
    days, gap, due, state = days[chosen], gap[chosen], due[chosen], state[chosen]
    contact = book.dept_contact[acc, product]
    if reasons:
        reason = _Texts(book, rules).reasons(
            rule,
            last,
            np.rint(days / DAYS_PER_MONTH).astype(np.int64),
            gap,
            product,
            contact,
            book.ready_reason[acc, product],
        )
    else:
        reason = pd.Series(pa.repeat("", len(acc)), dtype="str")
    frame = pd.DataFrame(
        {
            "account_id": _strings(book.accounts, acc),
            "product_id": _strings(book.products, product),
            "rank": ranks,
            "score": score[chosen],
            "confidence": rules.confidence[rule],
            "lift": rules.lift[rule],
            "reason": reason,
            "rule_antecedents": _strings(rules.antecedents, rule),
            "rule_segment": _strings(rules.rule_set, rule),
            "support_count": rules.count[rule],
            "department": _strings(book.departments, product),
            "has_department_contact": contact,
            "months_held": np.round(days / DAYS_PER_MONTH, 1),
            "typical_gap_months": np.round(gap / DAYS_PER_MONTH, 1),
            "ready": np.where(state >= 0, state == 1, due),
            "timing_due": due,
        }
    )
    return _typed(frame)


def _strings(values: np.ndarray, at: np.ndarray) -> pd.Series:
    """values[at] as a pandas str column, gathered by Arrow (None stays missing)."""
    return pd.Series(pa.array(values, type=pa.large_string()).take(at), dtype="str")


def _top_columns(board: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``top_k`` highest columns, highest first, ties to the lower column, and which are not -inf.

    The same order as a stable descending row sort cut at ``top_k``, found by ``top_k`` argmax passes
    (argmax returns the first of equal values): a full sort of every row costs several times more.
    Overwrites ``board``.
    """
    rows = np.arange(len(board))
    width = min(top_k, board.shape[1])
    order = np.empty((len(board), width), dtype=np.intp)
    valid = np.empty((len(board), width), dtype=bool)
    for step in range(width):
        column = np.argmax(board, axis=1)
        order[:, step] = column
        valid[:, step] = board[rows, column] > -np.inf
        board[rows, column] = -np.inf
    return order, valid


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0, 1, ..., n-1 for each n in ``lengths``, concatenated."""
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum())) - starts


def _could_rank(
    strength: np.ndarray, top_k: int, early: float, low_ready: float, high_ready: float
) -> np.ndarray:
    """Group candidates that can still make an account's top k whatever its timing and readiness.

    A candidate whose best possible score is below the worst possible score of the group's k-th
    strongest candidate is beaten by k others for every account of the group, so it is dropped
    before the per-account work. Exact: the ranking is unchanged.
    """
    finite = np.isfinite(strength)
    if strength.shape[1] <= top_k:
        return finite
    kth = -np.partition(-strength, top_k - 1, axis=1)[:, top_k - 1]
    with np.errstate(invalid="ignore"):
        floor = np.minimum(100.0, 100.0 * kth * early * low_ready)
        ceiling = np.minimum(100.0, 100.0 * strength * 1.0 * high_ready)
        return finite & ~(ceiling < floor[:, None])


def _last_antecedent(
    held_days: np.ndarray, slots: np.ndarray, acc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, the antecedent product the account got most recently (ties: lowest id), and its days held."""
    flat, row_start = held_days.ravel(), acc * held_days.shape[1]
    best_days = np.full(len(acc), np.inf)
    best = np.full(len(acc), -1, dtype=np.int64)
    for column in range(slots.shape[1]):
        product = slots[:, column]
        days = np.where(product >= 0, flat[row_start + np.maximum(product, 0)], np.inf)
        newer = days < best_days
        best = np.where(newer, product, best)
        best_days = np.where(newer, days, best_days)
    return best, best_days


def _groups(book: _Book) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (owned set, segment) pairs: each account's group, and each group's set and segment."""
    segment_onehot = book.segment[:, None] == np.arange(len(SEGMENTS) + 1)[None, :]
    groups, rows = unique_rows(np.hstack([book.owned, segment_onehot]))
    n_products = book.owned.shape[1]
    return groups, rows[:, :n_products], np.argmax(rows[:, n_products:], axis=1)


def _best_rules(owned: np.ndarray, segment: np.ndarray, rules: _Rules) -> np.ndarray:
    """For each group and product, the row of the best applicable rule (segment set first), NO_RULE if none.

    Rules are written worst first, so the best applicable one is the last to land on a cell; the
    segments' rules are written after the 'all' rules, so they win wherever they apply, and an 'all'
    rule skips the segments whose own rules already cover its antecedent and product. Each
    antecedent's groups are found once, starting from the holders of its rarest product.
    """
    n_products, codes = owned.shape[1], len(SEGMENTS) + 1
    choice = np.full((n_products, len(owned)), NO_RULE, dtype=np.int32)
    holders = [np.flatnonzero(owned[:, p]) for p in range(n_products)]
    rarity = np.asarray([len(h) for h in holders])
    sets = {}
    for rule_set in ["all", *SEGMENTS]:
        in_set = np.flatnonzero(rules.rule_set == rule_set)
        if len(in_set) and (rule_set == "all" or (segment == SEGMENTS.index(rule_set)).any()):
            ante_id, keys = pd.factorize(rules.antecedents[in_set])
            table = np.full((len(keys), n_products), NO_RULE, dtype=np.int32)
            np.minimum.at(table, (ante_id, rules.consequent[in_set]), in_set.astype(np.int32))
            sets[rule_set] = (in_set, keys, ante_id, table)
    for rule_set, (in_set, keys, ante_id, table) in sets.items():
        members = holders
        if rule_set != "all":
            inside = segment == SEGMENTS.index(rule_set)
            members = [h[inside[h]] for h in holders]
        else:
            open_cells = _open_for_all(keys, sets, codes)
        useful = _drop_dominated(table, keys)[ante_id, rules.consequent[in_set]] == in_set
        present = np.bincount(segment, minlength=codes) > 0
        rule_rows, key_rows = in_set[useful][::-1], ante_id[useful][::-1]
        targets = rules.consequent[rule_rows]
        needs = open_cells[key_rows, :, targets] & present if rule_set == "all" else present[None, :]
        needs = np.broadcast_to(needs, (len(rule_rows), codes))
        wanted, everywhere = needs.any(axis=1), (needs == present).all(axis=1)
        groups_of: dict[int, list[np.ndarray]] = {}
        for rule, key, product, whole, need in zip(
            rule_rows[wanted].tolist(),
            key_rows[wanted].tolist(),
            targets[wanted].tolist(),
            everywhere[wanted].tolist(),
            needs[wanted],
            strict=True,
        ):
            split = groups_of.get(key)
            if split is None:
                items = sorted((p for p in rules.slots[rule] if p >= 0), key=lambda p: rarity[p])
                rows = members[items[0]]
                for p in items[1:]:
                    rows = rows[owned[rows, p]]
                by_code = segment[rows]
                split = [rows] + ([rows[by_code == c] for c in range(codes)] if rule_set == "all" else [])
                groups_of[key] = split
            # choice[product][rows] (a row view) assigns several times faster than choice[product, rows].
            if whole:
                choice[product][split[0]] = rule
            else:
                choice[product][np.concatenate([split[c + 1] for c in np.flatnonzero(need)])] = rule
    return choice.T


def _open_for_all(keys: np.ndarray, sets: dict, codes: int) -> np.ndarray:
    """(antecedent, segment code, product): False where the segment has its own rule for a subset of it."""
    needed = np.ones((len(keys), codes, sets["all"][3].shape[1]), dtype=bool)
    for code, rule_set in enumerate(SEGMENTS):
        if rule_set not in sets:
            continue
        _, seg_keys, _, seg_table = sets[rule_set]
        position = {str(k): i for i, k in enumerate(seg_keys)}
        for key, name in enumerate(keys):
            items = str(name).split(";")
            found = [
                position[";".join(sub)]
                for size in range(1, len(items) + 1)
                for sub in combinations(items, size)
                if ";".join(sub) in position
            ]
            if found:
                needed[key, code] = ~(seg_table[found] != NO_RULE).any(axis=0)
    return needed


def _drop_dominated(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Blank rules that a rule on a smaller antecedent beats: that one applies wherever they do."""
    position = {str(k): i for i, k in enumerate(keys)}
    kept = table.copy()
    for key, name in enumerate(keys):
        items = str(name).split(";")
        subsets = [
            position[";".join(sub)]
            for size in range(1, len(items))
            for sub in combinations(items, size)
            if ";".join(sub) in position
        ]
        if subsets:
            beaten = table[subsets].min(axis=0) < table[key]
            kept[key, beaten] = NO_RULE
    return kept


class _Texts:
    """The pieces of a reason sentence, built once per rule, month count, product or readiness text."""

    def __init__(self, book: _Book, rules: _Rules) -> None:
        self.book, self.rules = book, rules
        self.names = [str(n) for n in book.names]
        self.ready_pieces = ["" if i == 0 else "; " + t for i, t in enumerate(book.ready_texts)]

    def rule_phrase(self, rule: int) -> str:
        return self.rule_phrases(np.asarray([rule]))[0]

    def rule_phrases(self, rule_ids: np.ndarray) -> list[str]:
        """'48% of smb accounts with A and B also own C (lift 1.9, 14,130 accounts)' for each rule.

        The rule fields are read as Python lists: indexing numpy arrays one rule at a time costs
        more than the formatting.
        """
        rules, names = self.rules, self.names
        fields = zip(
            rules.slots[rule_ids].tolist(),
            rules.rule_set[rule_ids].tolist(),
            rules.consequent[rule_ids].tolist(),
            rules.confidence[rule_ids].tolist(),
            rules.lift[rule_ids].tolist(),
            rules.count[rule_ids].tolist(),
            strict=True,
        )
        phrases = []
        for slots, rule_set, consequent, confidence, lift, count in fields:
            held = [names[p] for p in slots if p >= 0]
            joined = held[0] if len(held) == 1 else ", ".join(held[:-1]) + " and " + held[-1]
            who = "accounts" if rule_set == "all" else f"{rule_set} accounts"
            phrases.append(
                f"{confidence:.0%} of {who} with {joined} also own {names[consequent]} "
                f"(lift {lift:.1f}, {count:,} accounts)"
            )
        return phrases

    @staticmethod
    def gap_piece(gap: float) -> str:
        return "" if np.isnan(gap) else ", typical gap " + months_text(int(np.rint(gap / DAYS_PER_MONTH)))

    def department_piece(self, product: int, contact: bool) -> str:
        department = self.book.departments[product]
        if department is None:
            return ""
        if contact:
            return f"; needs a buyer in {department}, where it has a contact"
        return f"; needs a buyer in {department} — no contact there yet"

    def ready_piece(self, index: int) -> str:
        return self.ready_pieces[index]

    def reasons(
        self,
        rule: np.ndarray,
        last: np.ndarray,
        months: np.ndarray,
        gap: np.ndarray,
        product: np.ndarray,
        contact: np.ndarray,
        ready_reason: np.ndarray,
    ) -> pd.Series:
        """The sentences for many suggestions at once: pieces looked up by index, joined by Arrow."""
        rule_ids, rule_at = np.unique(rule, return_inverse=True)
        phrase = pa.array(self.rule_phrases(rule_ids)).take(rule_at)
        name = pa.array(self.names).take(last)
        months = np.clip(months, 0, None)
        month_texts = pa.array([months_text(m) for m in range(int(months.max(initial=0)) + 1)])
        gap_months = np.where(np.isnan(gap), -1, np.rint(np.nan_to_num(gap) / DAYS_PER_MONTH)).astype(
            np.int64
        )
        gap_ids, gap_at = np.unique(gap_months, return_inverse=True)
        gap_texts = pa.array(["" if g < 0 else ", typical gap " + months_text(int(g)) for g in gap_ids])
        n = len(self.book.products)
        department = pa.array([self.department_piece(p % n, bool(p // n)) for p in range(2 * n)])
        ready = pa.array(self.ready_pieces)
        joined = pc.binary_join_element_wise(
            phrase,
            "; this account has had ",
            name,
            " for ",
            month_texts.take(months),
            gap_texts.take(gap_at),
            department.take(product + n * contact.astype(np.int64)),
            ready.take(ready_reason),
            ".",
            "",
        )
        return pd.Series(joined, dtype="str")


def months_text(months: int) -> str:
    """'less than a month', '1 month', '8 months'."""
    if months <= 0:
        return "less than a month"
    return "1 month" if months == 1 else f"{months} months"


def _factors(settings: Mapping[str, Any]) -> tuple[float, float, float]:
    return (
        float(settings["suggestions.early_factor"]),
        float(settings["suggestions.ready_factor"]),
        float(settings["suggestions.not_ready_factor"]),
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[list(COLUMN_TYPES)]
    return frame.astype(COLUMN_TYPES).reset_index(drop=True)


def _prepare(
    portfolio: Portfolio,
    rules_all: pd.DataFrame,
    rules_by_segment: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
    attach: pd.DataFrame | None,
    roles: pd.DataFrame | None,
    seq: pd.DataFrame | None,
    as_of: Any,
    settings: Mapping[str, Any],
    readiness: pd.DataFrame | None,
) -> tuple[_Book, _Rules, int]:
    missing = [k for k in SUGGESTION_SETTINGS if k not in settings]
    if missing:
        raise ValueError(f"settings lack {', '.join(missing)}: pass the merged settings from resolve().")
    if float(settings["suggestions.lift_cap"]) <= 0:
        raise ValueError("suggestions.lift_cap must be positive.")
    if not 0 <= float(settings["suggestions.early_factor"]) <= 1:
        raise ValueError("suggestions.early_factor must be between 0 and 1.")
    if min(float(settings["suggestions.ready_factor"]), float(settings["suggestions.not_ready_factor"])) < 0:
        raise ValueError("suggestions.ready_factor and suggestions.not_ready_factor must not be negative.")
    if attach is not None and not {"product_a", "product_b", "attach_rate"} <= set(attach.columns):
        raise ValueError("attach must be the DataFrame of attach_matrix().")
    stamp = as_timestamp(as_of)
    account_index, product_index, held_days = holding_days(portfolio, stamp, sort_accounts=True)
    products = np.asarray(product_index, dtype=object)
    rules = _rules(rules_all, rules_by_segment, products, float(settings["suggestions.lift_cap"]))
    book = _book(portfolio, account_index, product_index, held_days, roles, seq, readiness)
    return book, rules, int(settings["suggestions.top_k"])


def _rules(
    rules_all: pd.DataFrame,
    rules_by_segment: pd.DataFrame | Mapping[str, pd.DataFrame] | None,
    products: np.ndarray,
    lift_cap: float,
) -> _Rules:
    """Single-consequent rules of the catalogue's products, ordered so that a lower row is the better rule."""
    needed = ["antecedents", "consequents", "confidence", "lift", "count"]
    frames = []
    if isinstance(rules_by_segment, Mapping):
        rules_by_segment = pd.concat(
            [f.assign(segment=name) for name, f in rules_by_segment.items()] or [rules_all.iloc[:0]],
            ignore_index=True,
        )
    for frame, name in ((rules_all, "rules_all"), (rules_by_segment, "rules_by_segment")):
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{name} must be a rules DataFrame.")
        lacking = [c for c in needed + ([] if name == "rules_all" else ["segment"]) if c not in frame.columns]
        if lacking:
            raise ValueError(f"{name} lacks column(s): {', '.join(lacking)}.")
        rule_set = "all" if name == "rules_all" else frame["segment"].astype(str)
        frames.append(frame[needed].assign(rule_set=rule_set))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*needed, "rule_set"])
    table = table[table["rule_set"].isin(["all", *SEGMENTS])]
    table = table.assign(
        antecedents=table["antecedents"].astype(str), consequents=table["consequents"].astype(str)
    )
    table = table[~table["consequents"].str.contains(";", regex=False)]
    codes, distinct = pd.factorize(table["antecedents"])
    index = {p: i for i, p in enumerate(products)}
    items = [sorted(str(a).split(";")) for a in distinct]
    width = max((len(i) for i in items), default=1)
    distinct_slots = np.full((len(items) + 1, width), -1, dtype=np.int64)
    known = np.zeros(len(items) + 1, dtype=bool)
    for row, names in enumerate(items):
        known[row] = all(n in index for n in names)
        if known[row]:
            distinct_slots[row, : len(names)] = sorted(index[n] for n in names)
    canonical = np.asarray([";".join(i) for i in items] + [""], dtype=object)
    consequent = positions_in(table["consequents"], pd.Index(products))
    usable = (consequent >= 0) & known[codes]
    table = table[usable].assign(antecedents=canonical[codes[usable]])
    slots, consequent = distinct_slots[codes[usable]], consequent[usable]
    confidence = table["confidence"].to_numpy(dtype="float64")
    lift = table["lift"].to_numpy(dtype="float64")
    table = table.assign(
        strength=confidence * np.minimum(lift, lift_cap) / lift_cap,
        size=(slots >= 0).sum(axis=1),
        _slot_row=np.arange(len(table)),
        _consequent=consequent,
    )
    table = table.sort_values(
        ["rule_set", "strength", "confidence", "count", "size", "antecedents", "consequents"],
        ascending=[True, False, False, False, True, True, True],
    )
    rows = table["_slot_row"].to_numpy()
    return _Rules(
        rule_set=table["rule_set"].to_numpy(dtype=object),
        antecedents=table["antecedents"].to_numpy(dtype=object),
        slots=slots[rows],
        consequent=table["_consequent"].to_numpy(dtype=np.int64),
        confidence=table["confidence"].to_numpy(dtype="float64"),
        lift=table["lift"].to_numpy(dtype="float64"),
        count=table["count"].to_numpy(dtype="int64"),
        strength=table["strength"].to_numpy(dtype="float64"),
    )


def _book(
    portfolio: Portfolio,
    account_index: pd.Index,
    product_index: pd.Index,
    held_days: np.ndarray,
    roles: pd.DataFrame | None,
    seq: pd.DataFrame | None,
    readiness: pd.DataFrame | None,
) -> _Book:
    products = np.asarray(product_index, dtype=object)
    catalogue = portfolio.products.assign(product_id=portfolio.products["product_id"].astype(str))
    catalogue = catalogue.drop_duplicates("product_id").set_index("product_id").reindex(products)
    names = [str(n) if pd.notna(n) else str(p) for n, p in zip(catalogue["name"], products, strict=True)]
    raw = catalogue["department"] if "department" in catalogue.columns else pd.Series(None, index=products)
    departments = np.asarray(
        [str(d).strip() if pd.notna(d) and str(d).strip() else None for d in raw], dtype=object
    )
    segment = np.full(len(account_index), len(SEGMENTS), dtype=np.int64)
    rows = positions_in(portfolio.accounts["account_id"], account_index)
    codes = pd.Index(SEGMENTS).get_indexer(portfolio.accounts["segment"].astype(object))
    segment[rows[rows >= 0]] = np.where(codes >= 0, codes, len(SEGMENTS))[rows >= 0]
    return _Book(
        accounts=np.asarray(account_index, dtype=object),
        products=products,
        names=np.asarray(names, dtype=object),
        departments=departments,
        owned=~np.isnan(held_days),
        segment=segment,
        held_days=held_days,
        dept_contact=_department_contacts(portfolio.contacts, account_index, departments),
        sunset=_sunset(roles, product_index),
        gap_days=_gaps(seq, product_index),
        **_readiness(readiness, account_index, product_index),
    )


def _department_contacts(contacts: pd.DataFrame, accounts: pd.Index, departments: np.ndarray) -> np.ndarray:
    """Whether each account has a contact in each product's buyer department (case and spaces ignored)."""
    found = np.zeros((len(accounts), len(departments)), dtype=bool)
    if contacts is None or len(contacts) == 0 or not {"account_id", "department"} <= set(contacts.columns):
        return found
    columns_of: dict[str, list[int]] = {}
    for column, department in enumerate(departments):
        if department:
            columns_of.setdefault(department.casefold(), []).append(column)
    codes, names = pd.factorize(contacts["department"])  # missing -> -1, matching nothing
    normal = np.asarray([str(n).strip().casefold() for n in names] + [""], dtype=object)
    rows = positions_in(contacts["account_id"], accounts)
    for key, columns in columns_of.items():
        people = np.isin(codes, np.flatnonzero(normal == key)) & (rows >= 0)
        found[np.ix_(rows[people], columns)] = True
    return found


def _sunset(roles: pd.DataFrame | None, products: pd.Index) -> np.ndarray:
    flags = np.zeros(len(products), dtype=bool)
    if roles is None or len(roles) == 0:
        return flags
    if not {"product_id", "role"} <= set(roles.columns):
        raise ValueError("roles must have columns product_id and role.")
    sunset = roles.loc[roles["role"].astype(str) == "sunset", "product_id"].astype(str)
    positions = products.get_indexer(sunset)
    flags[positions[positions >= 0]] = True
    return flags


def _gaps(seq: pd.DataFrame | None, products: pd.Index) -> np.ndarray:
    gaps = np.full((len(products), len(products)), np.nan)
    if seq is None or len(seq) == 0:
        return gaps
    if not {"product_a", "product_b", "median_days"} <= set(seq.columns):
        raise ValueError("seq must be the time_to_attach() frame: product_a, product_b, median_days.")
    rows = products.get_indexer(seq["product_a"].astype(str))
    cols = products.get_indexer(seq["product_b"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    gaps[rows[ok], cols[ok]] = pd.to_numeric(seq["median_days"], errors="coerce").to_numpy("float64")[ok]
    return gaps


def _readiness(readiness: pd.DataFrame | None, accounts: pd.Index, products: pd.Index) -> dict[str, Any]:
    state = np.full((len(accounts), len(products)), -1, dtype=np.int8)
    reason = np.zeros((len(accounts), len(products)), dtype=np.int32)
    texts = [""]
    if readiness is None or len(readiness) == 0:
        return {"ready_state": state, "ready_reason": reason, "ready_texts": texts}
    lacking = [c for c in ("account_id", "product_id", "ready") if c not in readiness.columns]
    if lacking:
        raise ValueError(f"readiness lacks column(s): {', '.join(lacking)}.")
    rows = positions_in(readiness["account_id"], accounts)
    cols = positions_in(readiness["product_id"], products)
    ok = (rows >= 0) & (cols >= 0) & readiness["ready"].notna().to_numpy()
    state[rows[ok], cols[ok]] = readiness["ready"].to_numpy(dtype=object)[ok].astype(bool).astype(np.int8)
    if "readiness_reason" in readiness.columns:
        codes, distinct = _reason_codes(readiness["readiness_reason"])
        texts += distinct
        reason[rows[ok], cols[ok]] = codes[ok]
    return {"ready_state": state, "ready_reason": reason, "ready_texts": texts}


def _reason_codes(reasons: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's reason, stripped and without its full stop, as 1 + its index in the distinct texts (0: none).

    Reasons repeat across rows, so each distinct value is cleaned once rather than every row
    being turned into a Python string and back.
    """
    codes, uniques = pd.factorize(reasons)  # missing -> -1, which picks the appended ""
    distinct = pd.Series(np.append(uniques.to_numpy(dtype=object), ""), dtype=object)
    cleaned = distinct.fillna("").astype(str).str.strip().str.rstrip(".")
    text_of_unique, texts = pd.factorize(cleaned)
    number = np.where(texts == "", 0, np.arange(1, len(texts) + 1)).astype(np.int32)
    return number[text_of_unique][codes], texts.tolist()
