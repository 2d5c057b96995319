#!/usr/bin/env python3
"""The web app end to end in a real browser: Debian's Chromium + chromium-driver driven by Selenium, against a real
`patchcore serve` on loopback over a fresh data folder. Run by `make test` (which installs the packages):

    python3 scripts/ui-test.py --bin .build/release/patchcore [--shots DIR]

Every step asserts on the page's DOM, fails on any JavaScript console error, and saves a screenshot to --shots.
Test data are generated here (small PNGs), never read from a data set.
"""
import argparse
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

HOSTILE = '<img src=x onerror="window.__pwned=1">'

# WCAG 2 contrast of each visible element's own text against the first opaque background behind it (canvases, SVG
# charts and images are not text); returns the failures.
CONTRAST_CHECK = """
const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
  .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
const background = (e) => {
  for (let n = e; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const out = [];
for (const e of document.querySelectorAll('body *')) {
  if (e.offsetParent === null || e.closest('svg')) continue;
  const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own && !['INPUT', 'SELECT', 'BUTTON', 'TEXTAREA'].includes(e.tagName)) continue;
  if (e.tagName === 'INPUT' && ['range', 'checkbox', 'radio', 'color', 'file'].includes(e.type)) continue;   // no text
  const style = getComputedStyle(e);
  const fg = rgb(style.color);
  if (fg.length === 4 && fg[3] < 1) continue;
  const [a, b] = [lum(fg.slice(0, 3)), lum(background(e))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) out.push(`${e.tagName}#${e.id}.${e.className} '${(e.textContent || e.value || '').trim().slice(0, 30)}' ${ratio.toFixed(2)}`);
}
return out;
"""


def png(width, height, pixel, channels=3):
    """A PNG of `pixel(x, y)` (a tuple of `channels` bytes), through zlib only."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixel(x, y))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    colour = {1: 0, 3: 2}[channels]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


def part(seed, defect=False, size=96):
    """A textured part (stripes + a seeded ripple); a defect adds a dark blob."""
    def pixel(x, y):
        v = 120 + 40 * ((x // 6 + y // 6) % 2) + ((x * 7 + y * 13 + seed * 29) % 17)
        if defect and (x - 60) ** 2 + (y - 40) ** 2 < 120:
            v = 20
        return (v, v, min(255, v + 20))
    return png(size, size, pixel)


def defect_mask(size=96):
    return png(size, size, lambda x, y: (255,) if (x - 60) ** 2 + (y - 40) ** 2 < 120 else (0,), channels=1)


class Server:
    def __init__(self, binary, folder):
        self.binary, self.folder = binary, folder
        self.keys = {role: self.make_key(role) for role in ("admin", "expert", "operator")}
        self.process = subprocess.Popen([binary, "serve", "--data-dir", folder, "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=open(os.path.join(folder, "serve.log"), "w"),
                                        text=True)
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            raise SystemExit(f"serve did not start: {line!r}")
        self.url = f"http://127.0.0.1:{match.group(1)}"

    def make_key(self, role):
        out = subprocess.run([self.binary, "serve", "keys", "create", "--data-dir", self.folder, "--name", role,
                              "--role", role], check=True, capture_output=True, text=True).stdout
        return re.search(r"pc_[A-Za-z0-9_\-]+", out).group(0)

    def call(self, method, path, role="admin", body=None, content_type="application/json"):
        data = json.dumps(body).encode() if content_type == "application/json" and body is not None else body
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.keys[role]}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def wait_job(self, job_id, seconds=300):
        deadline = time.time() + seconds
        while time.time() < deadline:
            _, job = self.call("GET", f"/api/v1/jobs/{job_id}")
            if job["state"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not end within {seconds} s")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class Browser:
    def __init__(self, shots):
        options = Options()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
                     "--disable-gpu", "--no-first-run"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                       options=options)
        self.shots = shots
        self.allowed = []   # console errors a step expects (a refused key's 401)

    def wait(self, condition, what, seconds=30):
        try:
            # A list the page re-renders while the condition reads it is read again at the next poll.
            return WebDriverWait(self.driver, seconds, poll_frequency=0.1,
                                 ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition(d))
        except TimeoutException:
            self.shot("failure")
            raise AssertionError(f"timed out waiting for {what}") from None

    def loaded(self, page, what):
        """Waits until the app has routed to `page` and the page has shown its data. Navigation is asynchronous
        (a hashchange event), so data-loaded alone could still be the previous page's."""
        self.wait(lambda d: self.find("#page").get_attribute("data-page") == page
                  and self.find("#page").get_attribute("data-loaded") == "true", what)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click(self, css):
        """Clicks an element after scrolling it to the middle of the window: the page's status line is fixed at
        the bottom, where WebDriver's own scrolling would leave an element under it."""
        element = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.find(css).text

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def step(self, name):
        """Ends a step: no console error beyond the expected ones, and a screenshot."""
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"
                  and not any(a in e["message"] for a in self.allowed)]
        self.allowed = []
        self.shot(name)
        assert not errors, f"{name}: console errors {errors}"
        assert not self.driver.execute_script("return window.__pwned === 1"), f"{name}: injected script ran"
        print(f"ok  {name}", flush=True)

    def image_has_content(self, element):
        """True when a loaded <img> has pixels that are not all one value (a heatmap or sample, not a blank)."""
        return self.driver.execute_script("""
            const img = arguments[0];
            if (!img.complete || img.naturalWidth === 0) return false;
            const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            let min = 255, max = 0;
            for (let i = 0; i < d.length; i += 4) { min = Math.min(min, d[i]); max = Math.max(max, d[i]); }
            return max - min > 10;""", element)

    def canvas_has_content(self, css, channel=0):
        """True when a canvas's `channel` is not one value everywhere (something was drawn)."""
        return self.driver.execute_script("""
            const c = document.querySelector(arguments[0]);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let min = 255, max = 0;
            for (let i = arguments[1]; i < d.length; i += 4) { min = Math.min(min, d[i]); max = Math.max(max, d[i]); }
            return c.width > 0 && max - min > 10;""", css, channel)

    def sign_in(self, url, key):
        self.driver.get(url + "/")
        self.wait(lambda d: self.find("#sign-in").is_displayed(), "the sign-in form")
        self.find("#key").send_keys(key)
        self.find("#sign-in button[type=submit]").click()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--shots", default="out/ui-test")
    args = parser.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="patchcore-ui-")
    server = Server(os.path.abspath(args.bin), folder)
    browser = Browser(args.shots)
    try:
        run(server, browser)
        reports(os.path.abspath(args.bin), browser, folder)
    finally:
        browser.driver.quit()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print("web app: every step passed")


def run(server, b):
    # Data through the API, as a line's tooling would bring it: a product, good images, a defect with its mask,
    # and a fitted, active model.
    assert server.call("POST", "/api/v1/products", body={"name": "bottle"})[0] == 201
    for seed in range(8):
        assert server.call("POST", "/api/v1/products/bottle/datasets/good", "expert", part(seed), "image/png")[0] == 201
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("crack/a.png", part(99, defect=True))
        z.writestr("crack/a_mask.png", defect_mask())
    status, body = server.call("POST", "/api/v1/products/bottle/datasets/defect/batch", "expert", archive.getvalue(),
                               "application/zip")
    assert status == 201, body
    _, job = server.call("POST", "/api/v1/products/bottle/jobs/fit", "expert", {"coreset_ratio": 0.1, "activate": True})
    fitted = server.wait_job(job["id"])
    assert fitted["state"] == "succeeded", fitted

    # Sign-in: a wrong key is refused with a message, the expert's key shows the expert's pages.
    b.allowed = ["/api/v1/me"]
    b.sign_in(server.url, "pc_not-a-key")
    b.wait(lambda d: "not valid" in b.text("#sign-in-error"), "the refusal of a wrong key")
    b.step("sign-in-refused")
    b.find("#key").clear()
    b.find("#key").send_keys(server.keys["expert"])
    b.find("#sign-in button[type=submit]").click()
    b.wait(lambda d: b.text("#who") == "expert (expert)", "the signed-in expert")
    assert not b.find("#sign-in").is_displayed()
    assert [a.text for a in b.all("#nav a") if a.is_displayed()] == ["Live", "Review", "Calibration", "Models", "Datasets", "Defect studio"]
    assert Select(b.find("#product")).first_selected_option.text == "bottle"
    b.step("signed-in-expert")

    # Live: inspections posted through the API arrive as cards with their heatmaps, counters follow, pause holds.
    b.wait(lambda d: b.all("#stream-state") and b.text("#stream-state") == "live", "the live stream")
    for seed, defect in ((1, False), (2, False), (3, True)):
        status, result = server.call("POST", "/api/v1/products/bottle/inspect?source=cam-1", "operator",
                                     part(seed, defect), "image/png")
        assert status == 200, result
    b.wait(lambda d: len(b.all("#live-cards li")) == 3, "three live cards")
    assert b.text("#count-parts") == "3"
    b.wait(lambda d: all(b.image_has_content(i) for i in b.all("#live-cards img")), "the heatmap overlays drawn")
    badges = [e.text for e in b.all("#live-cards .badge")]
    assert set(badges) <= {"OK", "NG"} and len(badges) == 3
    assert int(b.text("#count-ng")) == badges.count("NG")
    b.step("live")
    b.find("#pause").click()
    server.call("POST", "/api/v1/products/bottle/inspect", "operator", part(4), "image/png")
    b.wait(lambda d: b.text("#count-parts") == "4", "the counter while paused")
    assert len(b.all("#live-cards li")) == 3 and b.text("#pause") == "Resume (1)"
    b.find("#pause").click()
    b.wait(lambda d: len(b.all("#live-cards li")) == 4, "the held card after resume")
    b.step("live-paused-and-resumed")
    # The counters are the server's (this shift, last hour), so a page opened again mid-shift starts from them.
    b.find('#nav a[data-page="review"]').click()
    b.loaded("review", "the review page")
    b.find('#nav a[data-page="live"]').click()
    b.wait(lambda d: b.all("#count-parts") and b.text("#count-parts") == "4" and b.text("#count-hour") == "4",
           "this shift's and the last hour's counts from the server")
    assert b.text("#shift-since").startswith("since"), b.text("#shift-since")

    # Inspection detail: the NG part with its heatmap; a mask painted with pointer drags goes with a defect verdict
    # into the defect set (hostile reason shown as text); undo takes it out; an OK part overridden to good by key.
    def count(kind):
        _, listed = server.call("GET", f"/api/v1/products/bottle/datasets?kind={kind}", "operator")
        return listed["items"]
    defects_before, goods_before = len(count("defect")), len(count("good"))
    ng_card = [c for c in b.all("#live-cards li") if c.find_element(By.CSS_SELECTOR, ".badge").text == "NG"][0]
    ng_id = ng_card.get_attribute("data-id")
    ng_card.click()
    b.loaded("inspection", "the inspection detail")
    assert b.text("#detail-decision") == "NG" and f"Inspection {ng_id}" in b.text("#page h1")
    assert b.canvas_has_content("#detail-image") and b.canvas_has_content("#detail-heatmap"), "image and heatmap drawn"
    # The predicted region (map at the threshold) is outlined, and its size is among the facts.
    assert b.canvas_has_content("#detail-region", channel=3), "the predicted region's outline"
    assert " px (" in b.text("#detail-region-area"), b.text("#detail-region-area")
    b.find("#paint").click()
    viewer = b.find("#viewer")
    ActionChains(b.driver).move_to_element_with_offset(viewer, -30, -10).click_and_hold() \
        .move_by_offset(20, 5).move_by_offset(20, 5).move_by_offset(20, 0).release().perform()
    assert b.canvas_has_content("#detail-mask", channel=3), "the painted stroke"
    # The keyboard paints too: focus the mask, move the cursor, Space.
    def mask_pixels():
        return b.driver.execute_script("""
            const c = document.getElementById('detail-mask'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return n;""")
    by_pointer = mask_pixels()
    b.driver.execute_script("arguments[0].focus()", b.find("#detail-mask"))
    b.driver.switch_to.active_element.send_keys(Keys.ARROW_UP, Keys.ARROW_UP, Keys.ARROW_UP, Keys.ARROW_UP, Keys.SPACE)
    assert mask_pixels() > by_pointer, (by_pointer, mask_pixels())
    b.find("#reason").send_keys(HOSTILE)
    ActionChains(b.driver).move_to_element(b.find("#verdict-defect")).perform()
    assert "defect set" in b.text("#effect"), "what the verdict does, before it is given"
    b.find("#verdict-defect").click()
    b.wait(lambda d: len(b.all('#reviews li[data-verdict="defect"]')) == 1, "the defect review")
    assert HOSTILE in b.text("#reviews li .reason")
    added = count("defect")
    assert len(added) == defects_before + 1 and added[-1].get("mask_blob"), added
    white = b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/blobs/' + arguments[0], { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('patchcore.key') } })
          .then((r) => r.blob()).then(createImageBitmap).then((bitmap) => {
            const c = document.createElement('canvas'); c.width = bitmap.width; c.height = bitmap.height;
            const g = c.getContext('2d'); g.drawImage(bitmap, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 127) n += 1;
            done(n);
          }).catch((e) => done(-1));""", added[-1]["mask_blob"])
    assert white > 50, f"the stored mask holds the painted stroke ({white} white pixels)"
    b.wait(lambda d: "outlined in green" in b.text("#detail-truth-fact"), "the review's mask as ground truth")
    assert b.text("#detail-truth-fact").startswith("defect (review"), b.text("#detail-truth-fact")
    assert b.canvas_has_content("#detail-truth", channel=1), "the ground-truth outline is drawn"
    b.step("detail-defect-with-mask")
    b.click("#reviews li button.undo")
    b.wait(lambda d: b.all("#reviews li.undone"), "the undone review")
    b.wait(lambda d: b.text("#detail-truth-fact") == "not reviewed", "no ground truth once the review is undone")
    after_undo = count("defect")
    assert len(after_undo) == defects_before, f"undo leaves {len(after_undo)} defects, {defects_before} before"
    b.find("#viewer").click()   # focus on the page, not a field, so keys are shortcuts
    b.find("body").send_keys("g")
    b.wait(lambda d: len(b.all('#reviews li[data-verdict="good"]')) == 1, "the override to good by key")
    b.wait(lambda d: b.text("#detail-truth-fact").startswith("good (review"), "the override as ground truth")
    goods_after = count("good")
    assert len(goods_after) == goods_before + 1, f"{len(goods_after)} good images after the override, {goods_before} before"
    b.find('#nav a[data-page="live"]').click()
    b.wait(lambda d: len(b.all("#live-cards li")) == 4, "the live page again (history)")
    ok_card = [c for c in b.all("#live-cards li") if c.find_element(By.CSS_SELECTOR, ".badge").text == "OK"][0]
    ok_card.click()
    b.loaded("inspection", "the OK part's detail")
    ActionChains(b.driver).move_to_element(b.find("#verdict-good")).perform()
    assert "no dataset changes" in b.text("#effect")
    b.find("#viewer").click()
    b.find("body").send_keys("d")
    b.wait(lambda d: len(b.all('#reviews li[data-verdict="defect"]')) == 1, "the escape reported by key")
    assert len(count("defect")) == defects_before + 1, "an escape joins the defect set"
    b.step("detail-override-good")

    # Review queue: unreviewed parts, oldest first, one key per verdict.
    _, unreviewed = server.call("GET", "/api/v1/inspections?product=bottle&reviewed=false", "operator")
    waiting = sorted(i["id"] for i in unreviewed["items"])
    assert waiting and all(i["decision"] == "ok" for i in unreviewed["items"]), unreviewed
    b.find('#nav a[data-page="review"]').click()
    b.loaded("review", "the review queue")
    b.find("#band").clear()
    b.find("#band").send_keys("100")
    b.find("#queue-summary").click()   # leaves the field: its change event reloads the queue
    b.wait(lambda d: [int(li.get_attribute("data-id")) for li in b.all("#queue li")] == waiting, "the good parts, oldest first")
    b.find("#queue li").click()
    assert "no dataset changes" in b.text("#queue-effect")
    b.driver.switch_to.active_element.send_keys("c")
    b.wait(lambda d: [int(li.get_attribute("data-id")) for li in b.all("#queue li")] == waiting[1:], "the confirmed part leaving")
    _, reviews = server.call("GET", f"/api/v1/inspections/{waiting[0]}/reviews", "operator")
    assert [r["verdict"] for r in reviews["items"]] == ["confirm"], reviews
    b.step("review-queue")

    # Calibration (expert): the histograms drawn; dragging the threshold moves it and the expected rates; only an
    # admin may apply.
    b.find('#nav a[data-page="calibration"]').click()
    b.loaded("calibration", "the calibration page")
    assert len(b.all("#histogram rect.column")) > 0
    assert len(b.all("#histogram rect.series-defect")) > 0, "the reviewed defect (the escape) is drawn"
    start = float(b.find("#threshold-input").get_attribute("value"))
    rates_before = b.text("#expected-false-rejects")
    chart = b.find("#histogram")
    ActionChains(b.driver).move_to_element_with_offset(chart, -chart.size["width"] // 2 + 60, 0).click().perform()
    moved = float(b.find("#threshold-input").get_attribute("value"))
    assert moved < start, (start, moved)
    b.wait(lambda d: b.text("#expected-false-rejects") != rates_before, "the expected false rejects to follow")
    assert b.find("#apply-threshold").get_attribute("disabled") is not None, "an expert cannot apply"
    b.step("calibration-expert")
    b.find("#cancel-threshold").click()
    assert float(b.find("#threshold-input").get_attribute("value")) == start

    # Datasets: many files at once through the file picker (a defect with its mask, one without), removal and undo.
    uploads = os.path.join(server.folder, "uploads")
    os.makedirs(uploads, exist_ok=True)
    for name, data in (("x.png", part(30, defect=True)), ("x_mask.png", defect_mask()), ("y.png", part(31, defect=True))):
        with open(os.path.join(uploads, name), "wb") as f:
            f.write(data)
    b.find('#nav a[data-page="datasets"]').click()
    b.loaded("datasets", "the datasets page")
    b.find("#set-defect").click()
    b.wait(lambda d: b.text("#dataset-summary") == f"{len(count('defect'))} defect image(s)", "the defect set")
    before = len(count("defect"))
    b.find("#upload-label").send_keys("scratch")
    b.find("#upload-files").send_keys("\n".join(os.path.join(uploads, n) for n in ("x.png", "x_mask.png", "y.png")))
    b.wait(lambda d: b.text("#dataset-summary") == f"{before + 2} defect image(s)", "the two uploaded defects")
    b.wait(lambda d: all(b.image_has_content(i) for i in b.all("#dataset-items img")), "the images and the mask drawn")
    with_mask = [i for i in count("defect") if i["label"] == "scratch" and i.get("mask_blob")]
    assert len(with_mask) == 1, count("defect")
    b.step("datasets-uploaded")
    b.all("#dataset-items li button.remove")[-1].click()
    b.wait(lambda d: b.text("#dataset-summary") == f"{before + 1} defect image(s)", "the removal")
    b.find("#recently-removed button.restore").click()
    b.wait(lambda d: b.text("#dataset-summary") == f"{before + 2} defect image(s)", "the undo")
    b.step("datasets-removed-and-restored")

    # Defect studio: a classical synthesis job with progress, a gallery of samples beside their masks,
    # verdicts by button and by key, hostile text shown as text, then a dual model rebuilt from the accepted ones.
    b.find('#nav a[data-page="studio"]').click()
    b.wait(lambda d: b.all("#synthesize"), "the studio")
    assert not b.find("#diffusion-fields").is_displayed(), "diffusion settings only for the diffusion generator"
    # The prompt library: a diffusion prompt saved for its defect class (the label), reused, removed and restored.
    # This server has no diffusion model, so no job runs; the library and its fields work all the same.
    Select(b.find("#generator")).select_by_value("diffusion")
    assert b.find("#diffusion-fields").is_displayed()
    for css, value in (("#label", "scratch"), ("#prompt", HOSTILE), ("#negative-prompt", "blurry"), ("#steps", "12"),
                       ("#padding-crop", "24")):
        b.find(css).clear()
        b.find(css).send_keys(value)
    b.click("#save-preset")
    b.wait(lambda d: len(b.all('#preset optgroup[label="scratch"] option')) == 1, "the saved preset in the library")
    option = b.find('#preset optgroup[label="scratch"] option')
    assert option.text == HOSTILE and b.find("#preset").get_attribute("value") == option.get_attribute("value")
    _, library = server.call("GET", "/api/v1/products/bottle/prompts", "expert")
    assert [(p["defect_class"], p["prompt"], p["steps"], p["padding_mask_crop"]) for p in library["items"]] == \
        [("scratch", HOSTILE, 12, 24)], library
    for css in ("#prompt", "#negative-prompt", "#padding-crop", "#label"):
        b.find(css).clear()
    b.find("#steps").clear()
    b.find("#steps").send_keys("50")
    Select(b.find("#preset")).select_by_index(0)
    Select(b.find("#preset")).select_by_value(option.get_attribute("value"))
    assert [b.find(c).get_attribute("value") for c in ("#prompt", "#negative-prompt", "#steps", "#padding-crop", "#label")] \
        == [HOSTILE, "blurry", "12", "24", "scratch"]
    b.click("#remove-preset")
    b.wait(lambda d: not b.all("#preset optgroup") and b.find("#undo-remove-preset").is_displayed(), "the removed preset")
    b.click("#undo-remove-preset")
    b.wait(lambda d: len(b.all('#preset optgroup[label="scratch"] option')) == 1, "the restored preset")
    assert not b.all('img[src="x"]') and not b.driver.execute_script("return window.__pwned"), "the prompt stays text"
    b.step("studio-prompt-library")
    Select(b.find("#generator")).select_by_value("classical")
    # The product's placement region: shown as the server resolves it, painted once with a drag, saved, forgotten.
    b.click("#region-panel summary")
    b.wait(lambda d: b.find("#region-panel").get_attribute("data-ready") == "true", "the placement region")
    first_source = b.find("#region-panel").get_attribute("data-source")
    assert first_source in ("estimated", "none") and b.text("#region-source").startswith("Defects go:"), first_source
    region = b.find("#region-mask")
    b.driver.execute_script("arguments[0].getContext('2d').clearRect(0, 0, arguments[0].width, arguments[0].height);"
                            "arguments[0].scrollIntoView({block: 'center'})", region)
    ActionChains(b.driver).move_to_element_with_offset(region, -40, -40).click_and_hold() \
        .move_by_offset(30, 0).move_by_offset(30, 30).move_by_offset(-30, 20).release().perform()
    # And with the keyboard: focus the canvas, move the cursor down with the arrows, Space paints a dab there.
    def region_pixels():
        return b.driver.execute_script("""
            const c = document.getElementById('region-mask'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return n;""")
    by_pointer = region_pixels()
    region.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.SPACE)
    assert b.driver.switch_to.active_element == region and "% down" in region.get_attribute("aria-valuetext")
    assert region_pixels() > by_pointer, (by_pointer, region_pixels())
    b.click("#region-save")
    b.wait(lambda d: b.find("#region-panel").get_attribute("data-source") == "painted", "the saved region")
    _, placement = server.call("GET", "/api/v1/products/bottle/placement", "operator")
    _, product = server.call("GET", "/api/v1/products/bottle", "operator")
    assert placement["source"] == "painted" and placement["mask_blob"] == product["placement_blob"], (placement, product)
    assert b.canvas_has_content("#region-mask", channel=3), "the saved region drawn back"
    b.step("studio-placement-region")
    b.click("#region-forget")
    b.wait(lambda d: b.find("#region-panel").get_attribute("data-source") == first_source, "the estimate again")
    _, product = server.call("GET", "/api/v1/products/bottle", "operator")
    assert product.get("placement_blob") is None, product
    # The placement painted by the expert on one good image with pointer drags (a stroke, an erased dab undone).
    b.click("#use-painted")
    b.wait(lambda d: b.find("#painter").get_attribute("data-ready") == "true", "the good image to paint on")
    canvas = b.find("#paint-mask")
    ActionChains(b.driver).move_to_element_with_offset(canvas, -50, -20).click_and_hold() \
        .move_by_offset(20, 8).move_by_offset(20, 8).move_by_offset(20, 4).release().perform()
    assert b.canvas_has_content("#paint-mask", channel=3), "the painted stroke"
    b.click("#paint-erase")
    ActionChains(b.driver).move_to_element_with_offset(canvas, -50, -20).click().perform()
    b.click("#paint-undo")
    b.click("#paint-erase")
    painted = b.driver.execute_script("""
        const c = document.getElementById('paint-mask'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n += 1; return n;""")
    assert painted > 30, f"the stroke after undoing the eraser ({painted} px)"
    # Or start from a real defect's mask, flipped; undo comes back to the stroke.
    def mask_state():
        return b.driver.execute_script("""
            const c = document.getElementById('paint-mask'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0, sx = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) { n += 1; sx += ((i - 3) / 4) % c.width; }
            return [n, n ? Math.round(sx / n) : -1];""")
    b.click("#paint-load-defect")
    b.wait(lambda d: mask_state()[0] > 0 and mask_state()[0] != painted, "the real defect's mask on the canvas")
    loaded = mask_state()
    b.click("#paint-flip-h")
    flipped = mask_state()
    assert abs(flipped[0] - loaded[0]) <= loaded[0] // 20 and flipped[1] != loaded[1], (loaded, flipped)
    b.click("#paint-undo")
    b.click("#paint-undo")
    assert mask_state()[0] == painted, "undo back to the painted stroke"
    b.find("#count").clear()
    b.find("#count").send_keys("4")
    b.find("#label").clear()
    b.find("#label").send_keys(HOSTILE)
    b.click("#start-synthesis")
    b.wait(lambda d: b.find("#job-line").get_attribute("data-state") == "succeeded", "the synthesis job", 120)
    b.wait(lambda d: len(b.all("#gallery li")) == 4, "four pending samples")
    b.wait(lambda d: all(b.image_has_content(i) for i in b.all("#gallery img")), "the samples and masks drawn")
    assert HOSTILE in b.text("#gallery li"), "the label is shown as text"
    assert not b.all('#gallery img[src="x"]')
    # Every sample's defect lies inside the painted mask, on the chosen good image.
    _, samples = server.call("GET", "/api/v1/products/bottle/datasets?kind=synthetic", "operator")
    chosen = b.find("#paint-good").get_attribute("value")
    for item in samples["items"]:
        assert json.loads(item["details"])["source_image"] == f"dataset item {chosen}", item["details"]
    outside = b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const c = document.getElementById('paint-mask'), painted = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const key = sessionStorage.getItem('patchcore.key');
        Promise.all(arguments[0].map((sha) => fetch('/api/v1/blobs/' + sha, { headers: { Authorization: 'Bearer ' + key } })
            .then((r) => r.blob()).then(createImageBitmap).then((bitmap) => {
              const o = document.createElement('canvas'); o.width = bitmap.width; o.height = bitmap.height;
              const g = o.getContext('2d'); g.drawImage(bitmap, 0, 0);
              const d = g.getImageData(0, 0, o.width, o.height).data;
              let inside = 0, out = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i] > 127) { if (painted[i + 3] > 0) inside += 1; else out += 1; }
              return [inside, out];
            }))).then(done).catch((e) => done(String(e)));""", [i["mask_blob"] for i in samples["items"]])
    assert all(inside > 0 and out == 0 for inside, out in outside), f"sample mask pixels (inside, outside the painted mask): {outside}"
    b.step("studio-samples")
    first = b.all("#gallery li")[0]
    first_id = first.get_attribute("data-id")
    first.find_element(By.CSS_SELECTOR, "button.accept").click()
    b.wait(lambda d: len(b.all("#gallery li")) == 3, "the accepted sample leaving the pending list")
    focused = b.driver.switch_to.active_element
    second_id = focused.get_attribute("data-id")
    assert second_id and second_id != first_id, "focus moves to the next sample"
    focused.send_keys("r")
    b.wait(lambda d: len(b.all("#gallery li")) == 2, "the rejected sample leaving the pending list")
    _, accepted = server.call("GET", "/api/v1/products/bottle/datasets?kind=synthetic&verdict=accepted", "operator")
    _, rejected = server.call("GET", "/api/v1/products/bottle/datasets?kind=synthetic&verdict=rejected", "operator")
    assert [str(i["id"]) for i in accepted["items"]] == [first_id], accepted
    assert [str(i["id"]) for i in rejected["items"]] == [second_id], rejected
    b.find("#tab-accepted").click()
    b.wait(lambda d: [e.get_attribute("data-id") for e in b.all("#gallery li")] == [first_id], "the accepted tab")
    b.step("studio-verdicts")
    b.find("#rebuild-dual").click()
    # The dual fit, then the comparison's evaluations, follow in the job line; the comparison's state ends it.
    b.wait(lambda d: b.find("#rebuild-comparison").get_attribute("data-state") is not None, "the dual fit and the comparison", 300)
    _, versions = server.call("GET", "/api/v1/products/bottle/models", "operator")
    newest = max(versions["items"], key=lambda v: v["version"])
    assert newest["version"] == 2 and newest["activated_ms"], newest
    # Before / after: both versions were trained on every good image, so the comparison asks for new ones; with
    # two uploaded, "Compare again" evaluates v1 and v2 on the same held-out images.
    assert b.find("#rebuild-comparison").get_attribute("data-state") == "failed", b.text("#rebuild-comparison")
    assert "neither v1 nor v2 was trained on (0)" in b.text("#rebuild-comparison"), b.text("#rebuild-comparison")
    for seed in (20, 21):
        assert server.call("POST", "/api/v1/products/bottle/datasets/good", "expert", part(seed), "image/png")[0] == 201
    b.click("#compare-again")
    b.wait(lambda d: b.find("#rebuild-comparison").get_attribute("data-state") == "done", "the before / after comparison", 300)
    heads = [th.text for th in b.all("#studio-comparison thead th")]
    assert heads == ["Metric", "before (v1)", "after (v2)", "Change"], heads
    auroc = [c.text for c in b.all('#studio-comparison tr[data-metric="image_auroc"] td')]
    assert all(re.fullmatch(r"[01]\.\d{3}", c) for c in auroc[:2]) and re.fullmatch(r"[+-]\d\.\d{3}", auroc[2]), auroc
    _, versions = server.call("GET", "/api/v1/products/bottle/models", "operator")
    common = [json.loads(v["metrics"]).get("common_with") for v in sorted(versions["items"], key=lambda v: v["version"])]
    assert common == [2, 1], common
    assert "Both on the same 2 good" in b.text("#rebuild-comparison"), b.text("#rebuild-comparison")
    b.step("studio-dual-rebuilt")

    # Models: both versions listed, the dual one active; each evaluated with progress on two new good images and
    # the defects it was not trained on; the two side by side; a rollback to v1.
    b.find('#nav a[data-page="models"]').click()
    b.loaded("models", "the models page")
    rows = b.all("#versions tbody tr")
    assert [r.get_attribute("data-version") for r in rows] == ["2", "1"]
    assert "active" in rows[0].get_attribute("class")
    for version in ("1", "2"):
        b.find(f'#versions tr[data-version="{version}"] button.evaluate').click()
        b.wait(lambda d: b.text("#model-job-line").startswith(f"evaluation of v{version}")
               and b.find("#model-job-line").get_attribute("data-state") is not None, f"the evaluation of v{version}", 300)
        assert b.find("#model-job-line").get_attribute("data-state") == "succeeded", b.text("#model-job-line")
        b.wait(lambda d: b.find(f'#versions tr[data-version="{version}"] td.num').text != "–", f"v{version}'s metrics")
    for version in ("1", "2"):
        b.find(f'#versions tr[data-version="{version}"] input[type=checkbox]').click()
    b.wait(lambda d: b.all("#comparison"), "the comparison")
    auroc = b.all('#comparison tr[data-metric="image_auroc"] td')
    assert all(re.fullmatch(r"[01]\.\d{3}", c.text) for c in auroc[:2]), [c.text for c in auroc]
    b.step("models-compared")
    # The evaluation of v2 drawn from the metrics its job stored: curves, histograms, table per type, worst cases.
    b.click('#versions tr[data-version="2"] button.show-charts')
    b.wait(lambda d: b.all("#eval-roc path.curve") and b.all("#eval-pr path.curve"), "v2's ROC and PR curves")
    assert int(b.find("#eval-roc path.curve").get_attribute("data-points")) >= 2
    assert b.all("#eval-histogram rect.column.series-good") and b.all("#eval-histogram rect.column.series-defect")
    assert len(b.all("#eval-histogram line.threshold")) == 1
    types = [r.get_attribute("data-type") for r in b.all("#eval-per-type tbody tr")]
    assert types[0] == "good" and len(types) >= 2, types
    b.wait(lambda d: all(b.image_has_content(i) for i in b.all("#eval-worst-good img") + b.all("#eval-worst-defects img"))
           and b.all("#eval-worst-defects img"), "the worst cases' images")
    alts = [i.get_attribute("alt") for i in b.all("#eval-worst-good img") + b.all("#eval-worst-defects img")]
    assert all(a.startswith("heatmap overlay of dataset image") for a in alts), alts
    b.step("models-evaluation")
    # A fit from the form with its taps, input size and tiles, followed to the end; the new version is listed, not active.
    b.find("#fit-taps").send_keys("features.13")
    b.find("#fit-size").send_keys("64x48")
    b.find("#fit-tile").send_keys("32x32")
    b.click("#start-fit")
    b.wait(lambda d: b.text("#model-job-line").startswith("fit")
           and b.find("#model-job-line").get_attribute("data-state") is not None, "the fit from the form", 300)
    assert b.find("#model-job-line").get_attribute("data-state") == "succeeded", b.text("#model-job-line")
    b.wait(lambda d: b.all('#versions tr[data-version="3"]'), "version 3 in the list")
    assert "active" not in b.find('#versions tr[data-version="3"]').get_attribute("class")
    _, versions = server.call("GET", "/api/v1/products/bottle/models", "operator")
    v3 = next(v for v in versions["items"] if v["version"] == 3)
    assert '"taps":["features.13"]' in v3["config"] and '"width":64' in v3["config"] and '"height":48' in v3["config"] \
        and '"tile":{' in v3["config"] and '"overlap":128' in v3["config"], v3["config"]
    b.step("models-fit-from-form")
    assert not b.all("#versions button.activate"), "activation is an admin's"

    # A tablet held upright (768 x 1024): every page fits its width (nothing to scroll sideways) and the controls
    # stay on screen; then back to the laptop size.
    b.driver.set_window_size(768, 1024)
    for page in ("live", "review", "calibration", "models", "datasets", "studio"):
        b.find(f'#nav a[data-page="{page}"]').click()
        b.loaded(page, f"the {page} page at tablet width")
        overflow = b.driver.execute_script("""
            const width = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll('body *')].filter((e) => {
              const r = e.getBoundingClientRect();
              return r.width > 0 && r.right > width + 1 && getComputedStyle(e).position !== 'fixed' && !e.closest('.scroll-x');
            }).map((e) => e.id || e.className || e.tagName);
            return [document.documentElement.scrollWidth - width, wide.slice(0, 5)];""")
        assert overflow[0] <= 0 and not overflow[1], f"{page} at 768 px: {overflow[0]} px too wide, {overflow[1]}"
        # Every visible control has a name a screen reader can say (a label, aria-label or its own text).
        unnamed = b.driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea, button, [role=tab], canvas[aria-label], [tabindex]')]
              .filter((e) => e.offsetParent !== null && e.type !== 'hidden')
              .filter((e) => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.labels && e.labels.length)
                               || (e.tagName !== 'INPUT' && e.textContent.trim()) || e.getAttribute('alt')))
              .map((e) => e.outerHTML.slice(0, 80));""")
        assert not unnamed, f"{page}: controls without an accessible name: {unnamed}"
        # Text contrast against its background at least 4.5:1 (WCAG AA; 3:1 for large text), on opaque backgrounds.
        low = b.driver.execute_script(CONTRAST_CHECK)
        assert not low, f"{page}: text below AA contrast: {low[:5]}"
    b.step("tablet-studio")
    b.driver.set_window_size(1280, 800)

    # The operator: no studio link, the page says why, and the API refuses an expert's call.
    b.find("#sign-out").click()
    b.sign_in(server.url, server.keys["operator"])
    b.wait(lambda d: b.text("#who") == "operator (operator)", "the signed-in operator")
    assert [a.text for a in b.all("#nav a") if a.is_displayed()] == ["Live", "Review", "Calibration", "Models", "Datasets"]
    b.find('#nav a[data-page="models"]').click()
    b.loaded("models", "the models page for the operator")
    assert not b.all("#fit-form") and not b.all("#versions button.evaluate, #versions button.activate"), \
        "no fit, evaluate or activate for an operator"
    assert b.all("#versions button.show-charts"), "an operator reads the evaluations"
    b.driver.get(server.url + "/#/studio")
    b.wait(lambda d: "needs the expert role" in b.text("#page"), "the refusal of the studio")
    assert not b.all("#synthesize")
    status, _ = server.call("POST", f"/api/v1/datasets/{first_id}/verdict", "operator", {"verdict": "rejected"})
    assert status == 403, status
    b.step("operator")

    # The admin rolls back to v1; the next inspection is scored by it.
    b.find("#sign-out").click()
    b.sign_in(server.url, server.keys["admin"])
    b.wait(lambda d: b.text("#who") == "admin (admin)", "the signed-in admin")
    b.find('#nav a[data-page="models"]').click()
    b.wait(lambda d: b.all('#versions tr[data-version="1"] button.activate'), "the activate button")
    b.find('#versions tr[data-version="1"] button.activate').click()
    b.wait(lambda d: "active" in b.find('#versions tr[data-version="1"]').get_attribute("class"), "the rollback to v1")
    _, result = server.call("POST", "/api/v1/products/bottle/inspect", "operator", part(5), "image/png")
    assert result["model_version"] == 1, result
    b.step("admin-rollback")
    b.find('#nav a[data-page="calibration"]').click()
    b.loaded("calibration", "the calibration page for the admin")
    field = b.find("#threshold-input")
    field.clear()
    field.send_keys("2.5\t")
    b.wait(lambda d: b.find("#apply-threshold").get_attribute("disabled") is None, "apply enabled for a changed threshold")
    b.find("#apply-threshold").click()
    b.wait(lambda d: "threshold 2.500 applied" in b.text("#status"), "the applied threshold")
    _, versions = server.call("GET", "/api/v1/products/bottle/models", "operator")
    assert [v["threshold"] for v in versions["items"] if v["version"] == 1] == [2.5], versions
    _, audit = server.call("GET", "/api/v1/audit?entity=model_version", "admin")
    assert any(e["actor"] == "admin" and "threshold" in e["action"] for e in audit["items"]), audit
    b.step("calibration-applied")


def reports(binary, b, folder):
    """The command line's HTML reports, opened from disk like a user would: `demo` (fit + evaluate) writes
    report.html, `ablation` writes ablation.html; each is one file whose charts are drawn in the page."""
    demo = os.path.join(folder, "demo")
    subprocess.run([binary, "demo", "--out", demo, "--size", "64x64"], check=True, capture_output=True, timeout=600)
    b.driver.get("file://" + os.path.join(demo, "report.html"))
    b.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn") == "true", "report.html's charts")
    for chart in ("roc", "pr"):
        path = b.find(f"svg#{chart} path.curve")
        assert int(path.get_attribute("data-points")) >= 3, f"{chart}: a curve of several points"
        box = b.driver.execute_script("const r = arguments[0].getBBox(); return [r.width, r.height];", path)
        assert box[0] > 50 and box[1] > 50, f"{chart}: the curve spans the plot, bbox {box}"
    assert len(b.all("svg#histogram rect.column.series-good")) > 0 and len(b.all("svg#histogram rect.column.series-defect")) > 0
    assert len(b.all("svg#histogram line.threshold")) == 1, "the threshold on the histogram"
    types = [row.find_element(By.TAG_NAME, "th").text for row in b.all("#per-type tbody tr")]
    assert types[0] == "good" and len(types) >= 3, types
    overlays = b.all("#worst-good img") + b.all("#worst-defects img")
    assert len(overlays) >= 4 and all(b.image_has_content(i) for i in overlays), "the worst cases with their overlays"
    b.step("report-html")
    out = os.path.join(folder, "ablation")
    subprocess.run([binary, "ablation", "--data", os.path.join(demo, "data"), "--out", out, "--size", "64x64"],
                   check=True, capture_output=True, timeout=600)
    b.driver.get("file://" + os.path.join(out, "ablation.html"))
    b.wait(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-drawn") == "true", "ablation.html's charts")
    rows = len(b.all("#metrics tbody tr"))
    assert rows >= 2, "PatchCore and at least one dual row"
    groups = [t.text for t in b.all("svg#metrics-chart text.tick") if t.get_attribute("text-anchor") == "middle"]
    assert groups[0] == "PatchCore" and any(g.startswith("Dual *") for g in groups), groups
    assert len(b.all("svg#metrics-chart rect.column")) >= 2 * len(groups), "a bar per charted configuration and metric"
    assert len(b.all("svg#per-type-chart rect.column")) > 0
    b.step("ablation-html")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as error:
        print(f"FAIL {error}", file=sys.stderr)
        sys.exit(1)
