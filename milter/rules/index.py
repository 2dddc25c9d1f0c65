"""Which rules could match a message, from the ids of its findings alone.

Most rules need some finding (`finding: phi.*`, or all/any of such) and most messages have
few findings, so `decide` would evaluate dozens of condition trees that fail at their first
finding look-up. The index works out, once per rule set, the finding globs without which each
rule cannot match, and per message which globs its findings meet; a rule none of whose needed
globs is met is skipped. The verdict is the same: a skipped rule could not have matched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outguard.rules.conditions import AllOf, AnyOf, Condition, FindingCondition, id_matches

if TYPE_CHECKING:
    from outguard.rules.loader import RuleSet

MAX_IDS = 4096  # distinct finding ids remembered per rule set (ids are few; a bound all the same)


def needed_globs(condition: Condition) -> frozenset[str] | None:
    """Globs at least one of which some finding must match for `condition` to hold; None when
    it may hold without any finding (a header or envelope test, a `not`)."""
    if isinstance(condition, FindingCondition):
        return frozenset((condition.glob,))   # no candidate finding: never matches, whatever min_count
    if isinstance(condition, AllOf):          # every part must hold: any one part's need will do
        needs = [n for n in (needed_globs(p) for p in condition.parts) if n is not None]
        return min(needs, key=len) if needs else None
    if isinstance(condition, AnyOf):          # some part must hold: the union, if every part needs one
        each = [needed_globs(p) for p in condition.parts]
        if not each or any(n is None for n in each):
            return None
        return frozenset().union(*(n for n in each if n is not None))
    return None


@dataclass
class RuleIndex:
    """Per rule (in order), its needed globs or None; and finding id -> the globs it matches."""

    needs: tuple[frozenset[str] | None, ...]
    globs: frozenset[str]
    _of_id: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, ruleset: RuleSet) -> RuleIndex:
        needs = tuple(needed_globs(rule.when) for rule in ruleset.rules)
        return cls(needs, frozenset().union(*(n for n in needs if n is not None)))

    def met(self, finding_ids: Iterable[str]) -> set[str]:
        """The needed globs that some of `finding_ids` match."""
        out: set[str] = set()
        for fid in finding_ids:
            hit = self._of_id.get(fid)
            if hit is None:
                hit = frozenset(g for g in self.globs if id_matches(fid, g))
                if len(self._of_id) < MAX_IDS:
                    self._of_id[fid] = hit
            out |= hit
        return out


def index_of(ruleset: RuleSet) -> RuleIndex:
    """The index of `ruleset` (built on its first decision and kept on it: `RuleSet.index`)."""
    return ruleset.index
