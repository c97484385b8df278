"""Timing rules: the window's draw throttle, the live loop's ordering, auto precision's
timing statistic, quality gate and cache (tests on fake clocks and fake passes)."""

from __future__ import annotations

WINDOW = "mae_desktop/app/main_window.py"
LIVE = "mae_desktop/core/live.py"
PRECISION = "mae_desktop/engine/precision.py"
T_THROTTLE = "tests/app/test_draw_throttle.py"
T_LIVE = "tests/core/test_clock_rules.py"
T_AUTO = "tests/engine/test_auto_timing.py"

MUTANTS = [
    # -- the draw throttle ---------------------------------------------------------------------
    (
        "draw-older-of-two",
        WINDOW,
        "        self._pending = shown\n        if self._draw_timer.isActive():",
        "        self._pending = self._pending or shown\n        if self._draw_timer.isActive():",
        (T_THROTTLE,),
    ),
    (
        "draw-throttle-interval-ignored",
        WINDOW,
        "        if wait_ms <= 0:\n            self._draw_pending()",
        "        if True:\n            self._draw_pending()",
        (T_THROTTLE,),
    ),
    (
        "draw-painting-interval-ignored",
        WINDOW,
        "interval = DRAW_INTERVAL_PAINTING_MS if self.editor.stroking else DRAW_INTERVAL_MS",
        "interval = DRAW_INTERVAL_MS",
        (T_THROTTLE,),
    ),
    # -- the live loop's ordering --------------------------------------------------------------
    (
        "live-older-result-shown",
        LIVE,
        "if self.shown is not None and r.id <= self.shown.id:",
        "if self._to_show is not None and r.id <= self._to_show.id:",
        (T_LIVE,),
    ),
    (
        "live-newest-said-catching-up",
        LIVE,
        'r.id < self.latest.get("analyse", r.id)',
        'r.id <= self.latest.get("analyse", r.id)',
        (T_LIVE,),
    ),
    (
        "live-burst-keeps-its-first",
        LIVE,
        "self._to_show = self.shown  # announced at the end of the burst",
        "self._to_show = self._to_show or self.shown",
        (T_LIVE,),
    ),
    # -- auto precision ------------------------------------------------------------------------
    (
        "auto-slowest-pass-timing",
        PRECISION,
        "Pass(min(times[n]), last[n].psnr, last[n].weights)",
        "Pass(max(times[n]), last[n].psnr, last[n].weights)",
        (T_AUTO,),
    ),
    (
        "auto-mean-pass-timing",
        PRECISION,
        "Pass(min(times[n]), last[n].psnr, last[n].weights)",
        "Pass(sum(times[n]) / len(times[n]), last[n].psnr, last[n].weights)",
        (T_AUTO,),
    ),
    (
        "auto-warm-up-timed",
        PRECISION,
        "if round_ >= WARMUP_PASSES:",
        "if round_ >= 0:",
        (T_AUTO,),
    ),
    (
        "auto-gate-sign-flipped",
        PRECISION,
        "delta = p.psnr - ref.psnr",
        "delta = ref.psnr - p.psnr",
        (T_AUTO,),
    ),
    (
        "auto-gate-one-sided",
        PRECISION,
        "ok = abs(delta) <= PSNR_TOLERANCE_DB",
        "ok = delta >= -PSNR_TOLERANCE_DB",
        (T_AUTO,),
    ),
    (
        "auto-cached-choice-not-the-chosen",
        PRECISION,
        '"dtype": name,',
        '"dtype": min(trials, key=lambda t: t.ms).name,',
        (T_AUTO,),
    ),
    (
        "auto-seconds-not-by-the-clock",
        PRECISION,
        "    seconds = clock() - t0\n",
        "    seconds = time.perf_counter() - t0\n",
        (T_AUTO,),
    ),
]
