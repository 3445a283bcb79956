"""The oracle budget of a run: how many oracle relaxations the loop may still spend, and the ones kept for the end
(the verification of the final search's structures and the tight relaxation of the best)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class OracleBudget:
    """``total`` oracle relaxations at most (None: no cap), of which ``verify`` and ``refine`` are kept for the end."""

    total: int | None
    verify: int
    refine: int

    @classmethod
    def plan(cls, total: int | None, n_verify: int, n_refine: int) -> OracleBudget:
        """The budget of a run asking for ``n_verify`` verifications and ``n_refine`` refinements: with a cap, at
        most half of it is kept for the verification and a quarter for the refinement."""
        if total is None:
            return cls(None, n_verify, n_refine)
        return cls(total, min(n_verify, total // 2), min(n_refine, total // 4))

    def left(self, used: int, reserve: int = 0) -> int | None:
        """The relaxations still allowed after ``used`` ones, keeping ``reserve``; None: no cap."""
        if self.total is None:
            return None
        return max(0, self.total - used - reserve)

    def loop_left(self, used: int) -> int | None:
        """What the loop may still spend: the verification's and the refinement's relaxations are kept."""
        return self.left(used, self.verify + self.refine)

    def loop_spent(self, used: int) -> bool:
        return self.loop_left(used) == 0

    def to_dict(self) -> dict:
        return asdict(self)
