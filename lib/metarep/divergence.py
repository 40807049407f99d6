r"""One divergence policy for the ODE and the simulator: when a run counts as diverged, and
which knob is to blame.

* :func:`diverged` — a record has diverged when its state or error is not finite, or when its
  meta-test error exceeds :data:`EG_BLOWUP` times the error of the zero predictor f ≡ 0 (the
  adaptation then amplifies instead of fitting).
* :func:`explain` — the likely cause, measured at the **last finite state** before the
  blow-up (the callers find that state step by step, not at the previous record):

  1. the first-order head update: its linear part −η_a C (I − η_in C)^S grows when S is odd,
     η_a > 0 and η_in λ_max(C) > 1 (``eq-fo-head``) — blame ``eta_in`` or ``eta_head``;
  2. the inner loop: S ≥ 1 adaptation steps of rate η_in are unstable when the stiffness
     η_in λ_max(C) ≥ 2, C = I2(Q) (book equation ``eq-inner-stability``) — blame ``eta_in``;
  3. the ODE's integration step: RK4 is unstable when dt times the fastest rate of the ODE
     (the spectral radius of its Jacobian) exceeds :data:`RK4_LIMIT`; the rate belongs to the
     head (∝ η_a: blame ``eta_head``) or to the body (∝ η: blame ``eta``, or ``dt``);
     for the simulator the analogue is the per-task head step (η_a/N) λ_max(C) > 1;
  4. otherwise the outer rate: the η²/b noise term of dQ/dα, compared with the drift at the
     last finite state — blame ``eta`` (or a small ``query_batch``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from metarep import drift, linear, metaloss, observables

#: A record counts as diverged when its meta-test error exceeds this multiple of the error of
#: the zero predictor (f ≡ 0).
EG_BLOWUP = 1e3
#: Stability limit of classical RK4 on the negative real axis: h·|rate| ≲ 2.785.
RK4_LIMIT = 2.785


@jax.jit
def diverged(states, eg, dist):
    """Mask (..., n) of diverged records: non-finite state or error, or eg > EG_BLOWUP × the
    error of the zero predictor (:func:`metarep.metaloss.zero_predictor_error`); shapes:
    states = (Q (..., n, K, K), R (..., n, K, M), a (..., n, K)), eg (..., n)."""
    Q, R, a = states
    finite = (jnp.isfinite(Q).all(axis=(-1, -2)) & jnp.isfinite(R).all(axis=(-1, -2))
              & jnp.isfinite(a).all(axis=-1) & jnp.isfinite(eg))
    zero = metaloss.zero_predictor_error(dist)
    return ~finite | (eg > EG_BLOWUP * zero)


def _spectral_radii(cfg, state, hp):
    """(ρ, ρ_body, ρ_head): spectral radius of the Jacobian of the ODE at ``state``, of its
    (Q, R) block and of its head block (0 for a fixed head)."""
    learn_head = cfg.eta_head > 0
    J, _ = linear.jacobian(state, hp, cfg.inner_steps, cfg.first_order, learn_head)
    if not np.all(np.isfinite(J)):
        return np.inf, np.inf, 0.0
    nb = J.shape[0] - (cfg.K if learn_head else 0)
    rho = lambda A: float(np.abs(np.linalg.eigvals(A)).max()) if A.size else 0.0  # noqa: E731
    return rho(J), rho(J[:nb, :nb]), rho(J[nb:, nb:])


def explain(cfg, state, T=None, dt: float | None = None) -> str:
    """The likely cause of a divergence, from the last finite state (Q, R, a) before it.

    ``dt``: the ODE's integration step (None for the simulator, whose step is one task,
    Δα = 1/N). Returns one sentence naming the configuration key(s) to change.
    """
    Q, R, a = (np.asarray(x, dtype=float) for x in state)
    S = cfg.inner_steps
    stiff = float(observables.inner_stiffness(jnp.asarray(Q), cfg.eta_in))
    lam = stiff / cfg.eta_in if cfg.eta_in > 0 else float(
        observables.inner_stiffness(jnp.asarray(Q), 1.0))
    if cfg.first_order and cfg.eta_head > 0 and S % 2 == 1 and stiff > 1.0:
        return (f"the first-order head update is unstable: eta_in·λ_max(C) = {stiff:.3g} > 1 "
                f"with an odd number of inner steps (S = {S}) and eta_head = {cfg.eta_head:g} "
                "> 0, so da/dα = −η_a C (I − η_in C)^S a + … grows; reduce eta_in below "
                f"1/λ_max(C) = {1 / lam:.3g}, set eta_head = 0, or use the full meta-gradient")
    if S >= 1 and stiff >= 2.0:
        return (f"the inner loop is unstable: eta_in·λ_max(C) = {stiff:.3g} ≥ 2 at the last "
                f"finite state (C = I2(Q)), so the {S} adaptation step(s) amplify the head "
                f"instead of fitting it; reduce eta_in below 2/λ_max(C) = {2 / lam:.3g}")
    hp = drift.hyper(cfg, T)
    if dt is None:
        head_step = cfg.eta_head * lam / cfg.N
        if head_step > 1.0:
            return (f"the per-task head step is too large: (eta_head/N)·λ_max(C) = "
                    f"{head_step:.3g} > 1 at the last finite state; reduce eta_head below "
                    f"N/λ_max(C) = {cfg.N / lam:.3g}")
    elif np.all(np.isfinite([Q.sum(), R.sum(), a.sum()])):
        rho, rho_body, rho_head = _spectral_radii(cfg, (Q, R, a), hp)
        if not np.isfinite(rho):
            key, value = max((("eta", cfg.eta), ("eta_head", cfg.eta_head)), key=lambda kv: kv[1])
            return (f"the drift is not finite at the last finite state: the outer rate "
                    f"{key} = {value:g} is far too large; reduce {key}")
        if rho * dt > RK4_LIMIT:
            if rho_head >= rho_body:
                return (f"the head relaxes too fast for the integration step: its rate "
                        f"{rho_head:.3g} (∝ eta_head = {cfg.eta_head:g}) times dt = {dt:g} "
                        f"exceeds RK4's limit {RK4_LIMIT}; reduce eta_head (or dt below "
                        f"{RK4_LIMIT / rho:.3g})")
            return (f"the body's fastest rate {rho_body:.3g} (∝ eta = {cfg.eta:g}) times "
                    f"dt = {dt:g} exceeds RK4's limit {RK4_LIMIT}; reduce eta (or dt below "
                    f"{RK4_LIMIT / rho:.3g})")
    s = drift.State(*(jnp.asarray(x) for x in (Q, R, a)))
    noise = np.asarray(metaloss.noise_term(*s, hp.dist, hp.eta_in, S)) * cfg.eta**2 / cfg.query_batch
    total = np.asarray(_field(s, hp, S, cfg.first_order).Q)
    share = np.linalg.norm(noise) / max(np.linalg.norm(total - noise), 1e-300)
    cause = (f"the outer learning rate is too large (eta = {cfg.eta:g}, query_batch = "
             f"{cfg.query_batch}): at the last finite state the η²/b noise term of dQ/dα is "
             f"{share:.3g} times the drift; reduce eta or increase query_batch")
    if cfg.P is not None:
        cause += (f" (with support P = {cfg.P} the empirical support Gram fluctuates around C, "
                  "so eta_in close to 2/λ_max(C) can also diverge)")
    return cause


_field = jax.jit(drift.vector_field, static_argnames=("steps", "first_order"))


__all__ = ["EG_BLOWUP", "RK4_LIMIT", "diverged", "explain"]
