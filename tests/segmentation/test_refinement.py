"""Edge-aware refinement: exact upsampling arithmetic, and it follows the photo's edges."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from compositing.segmentation.refine import (
    GuidedFilterParams,
    apply_coefficients,
    box_mean,
    guided_filter_coefficients,
    refine_guided,
    upsample_bilinear,
)


def test_strip_wise_upsampling_equals_one_bilinear_resize():
    torch.manual_seed(0)
    for height, width, h, w in [(1080, 1920, 288, 512), (37, 53, 10, 7), (5, 5, 9, 9)]:
        coefficients = torch.rand(4, h, w)
        rgb = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8)
        out = torch.empty(height, width)
        apply_coefficients(rgb, coefficients, out, low=-10.0, high=10.0)
        full = F.interpolate(coefficients[None], size=(height, width), mode="bilinear")[0]
        guide = rgb.permute(2, 0, 1).float() / 255
        expected = ((full[:3] * guide).sum(0) + full[3] + 10.0) / 20.0
        assert (out - expected).abs().max() < 1e-5

        prob = torch.rand(h, w)
        upsample_bilinear(prob, out)
        expected = F.interpolate(prob[None, None], size=(height, width), mode="bilinear")[0, 0]
        assert (out - expected).abs().max() < 1e-4


def test_box_mean_is_the_clipped_window_average():
    x = torch.rand(2, 9, 11, dtype=torch.float64)
    got = box_mean(x, 2)
    for i, j in [(0, 0), (4, 5), (8, 10), (1, 9)]:
        window = x[:, max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
        assert torch.allclose(got[:, i, j], window.mean((1, 2)))


def test_guided_refinement_follows_a_colour_edge_that_bilinear_blurs():
    # A 600x800 photo: person colour left of x=301 (not on the 256 px grid), background right.
    height, width, edge = 600, 800, 301
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :edge] = (200, 150, 120)
    rgb[:, edge:] = (40, 90, 160)
    truth = np.zeros((height, width), np.float32)
    truth[:, :edge] = 1.0
    # The network's view: the edge at low resolution, smeared over a few of its pixels.
    low = F.interpolate(torch.from_numpy(truth)[None, None], size=(192, 256), mode="area")
    prob = F.avg_pool2d(low, 5, stride=1, padding=2, count_include_pad=False)[0, 0]

    photo = torch.from_numpy(rgb)
    bilinear = upsample_bilinear(prob, torch.empty(height, width)).numpy()
    guided = refine_guided(photo, prob, GuidedFilterParams(), torch.empty(height, width)).numpy()

    error_bilinear = np.abs(bilinear - truth).mean()
    error_guided = np.abs(guided - truth).mean()
    assert error_guided < 0.5 * error_bilinear
    assert ((guided >= 0.5) == (truth >= 0.5)).all()


def test_guided_coefficients_solve_the_regularised_colour_system():
    torch.manual_seed(1)
    guide = torch.rand(3, 20, 30, dtype=torch.float64)
    prob = torch.rand(20, 30, dtype=torch.float64)
    radius, eps = 2, 1e-3
    # Computed in float32 (the compiled kernels' type), checked against float64 algebra.
    got = guided_filter_coefficients(guide.float(), prob.float(), radius=radius, eps=eps)

    # Reference: per pixel, a = (cov(I) + eps·Id)^-1 cov(I, p), b = mean(p) - a·mean(I),
    # both box-averaged again (He et al., colour guide).
    mean = box_mean(torch.cat([guide, prob[None]]), radius)
    outer = box_mean((guide[:, None] * guide[None]).reshape(9, 20, 30), radius).reshape(
        3, 3, 20, 30
    )
    sigma = outer - mean[:3, None] * mean[None, :3] + eps * torch.eye(3)[:, :, None, None]
    cov = box_mean(guide * prob, radius) - mean[:3] * mean[3]
    a = torch.linalg.solve(sigma.permute(2, 3, 0, 1), cov.permute(1, 2, 0)[..., None])[..., 0]
    a = a.permute(2, 0, 1)
    b = mean[3] - (a * mean[:3]).sum(0)
    expected = box_mean(torch.cat([a, b[None]]), radius)
    assert got.dtype == torch.float32
    assert torch.allclose(got.double(), expected, rtol=1e-4, atol=1e-5)


def _plain_formula(rgb: torch.Tensor, coefficients: torch.Tensor, low: float, high: float):
    """The guided formula everywhere, with one full-size bilinear resize (no skipping)."""
    height, width = rgb.shape[:2]
    full = F.interpolate(coefficients[None].double(), size=(height, width), mode="bilinear")[0]
    guide = rgb.permute(2, 0, 1).double() / 255
    return (((full[:3] * guide).sum(0) + full[3] - low) / (high - low)).clamp(0.0, 1.0)


def _check_against_plain_formula(rgb, coefficients, low=0.3, high=0.7):
    height, width = rgb.shape[:2]
    expected = _plain_formula(rgb, coefficients, low, high)
    got = apply_coefficients(rgb, coefficients, torch.empty(height, width), low=low, high=high)
    assert (got.double() - expected).abs().max() < 1e-5
    saturated = (expected == 0) | (expected == 1)
    assert torch.equal(got[saturated].double(), expected[saturated])  # skipped pixels exact

    matte = torch.empty(height, width, dtype=torch.uint8)
    apply_coefficients(rgb, coefficients, matte, low=low, high=high)
    expected_matte = (expected * 255 + 0.5).floor()
    assert (matte.double() - expected_matte).abs().max() <= 1  # a float rounding tie at most
    assert torch.equal(matte[saturated].double(), expected_matte[saturated])
    return saturated.double().mean().item()


def test_saturated_tiles_are_skipped_without_changing_any_pixel():
    # Random coefficient maps with large regions far below 0 / above 1, noisy colour
    # slopes (some cells near the bounds) and a random photo: the bound-based skipping
    # must give what the formula gives everywhere.
    generator = torch.Generator().manual_seed(3)
    cases = [(300, 200, 24, 18, 0.15), (97, 131, 40, 51, 0.15), (64, 64, 64, 64, 0.15)]
    cases += [(200, 150, 30, 20, 0.003), (90, 70, 90, 70, 0.001)]  # most cells near 0 or 1
    for height, width, h, w, slope in cases:
        blocks = torch.randint(0, 3, (1, 1, 4, 3), generator=generator).float()
        level = F.interpolate(blocks, size=(h, w), mode="bilinear")[0, 0] * 0.5 - 0.1
        level = level.clamp(0.3 - 4 * slope, 0.7 + 4 * slope)  # low/high are 0.3/0.7
        coefficients = torch.randn(4, h, w, generator=generator) * slope
        coefficients[3] += level  # b: background, in between, person
        rgb = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
        fraction = _check_against_plain_formula(rgb, coefficients)
        assert fraction > 0.2  # the test exercises the skipping


def test_guided_refinement_with_skipping_equals_the_plain_formula_on_a_portrait_like_photo():
    # A smooth "person" disc over a gradient background, with texture: the coefficients
    # the refinement really computes, applied with and without skipping.
    height, width = 480, 360
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    person = ((yy - 260.0) ** 2 / 180**2 + (xx - 180.0) ** 2 / 120**2) < 1
    rgb = torch.stack([xx * 0.5 + 20, yy * 0.3 + 40, 120 + 30 * torch.sin(xx / 7.0)], -1)
    rgb[person] = torch.tensor([190.0, 140.0, 110.0]) + 25 * torch.cos(yy[person] / 5.0)[:, None]
    rgb = rgb.clamp(0, 255).to(torch.uint8)
    prob = F.interpolate(person[None, None].float(), size=(256, 192), mode="area")[0, 0]
    prob = F.avg_pool2d(prob[None, None], 5, stride=1, padding=2)[0, 0]

    params = GuidedFilterParams()
    h, w = 384, 288
    guide = rgb.permute(2, 0, 1).float()[None] / 255
    guide = F.interpolate(guide, size=(h, w), mode="bilinear", antialias=True)[0]
    p = F.interpolate(prob[None, None], size=(h, w), mode="bilinear")[0, 0]
    coefficients = guided_filter_coefficients(guide, p, radius=3, eps=params.eps)
    fraction = _check_against_plain_formula(rgb, coefficients, params.low, params.high)
    assert fraction > 0.6


def _two_threads(work, items):
    """A ``refine.Runner`` that does the items on two threads, last first."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(work, item) for item in reversed(list(items))]:
            future.result()


def test_refinement_shared_between_threads_gives_the_same_alpha():
    # Taller and wider than a band of rows (photo 128, grid 64), with a soft outline.
    generator = torch.Generator().manual_seed(3)
    height, width = 700, 530
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    person = ((yy - 400.0) ** 2 / 260**2 + (xx - 260.0) ** 2 / 180**2) < 1
    rgb = torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=generator)
    rgb[person] = rgb[person] // 4 + 150
    prob = F.interpolate(person[None, None].float(), size=(256, 192), mode="area")[0, 0]
    params = GuidedFilterParams()
    for dtype in (torch.uint8, torch.float32):
        in_turn, shared = (
            torch.zeros(height, width, dtype=dtype),
            torch.ones(height, width, dtype=dtype),
        )
        refine_guided(rgb, prob, params, in_turn)
        refine_guided(rgb, prob, params, shared, runner=_two_threads)
        assert torch.equal(shared, in_turn)
        assert 0 < float(in_turn.float().mean()) < float(in_turn.max())  # a real, soft matte
