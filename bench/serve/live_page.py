"""Driver of live_page.sh: clients inspecting at the server's full rate while Chromium shows the Live page.
Prints one JSON object. Args: PORT KEY TEST_DIR DURATION_S CONNECTIONS."""
import glob
import json
import shutil
import sys
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

port, key, test_dir, duration, connections = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
base = f"http://127.0.0.1:{port}"
images = [open(p, "rb").read() for p in sorted(glob.glob(f"{test_dir}/*/*.png"))[:16]]
answered = {"ok": 0, "other": 0}
stop = threading.Event()
lock = threading.Lock()


def client(k):
    i = k
    while not stop.is_set():
        request = urllib.request.Request(f"{base}/api/v1/products/bottle/inspect?source=bench", data=images[i % len(images)],
                                         headers={"Authorization": f"Bearer {key}", "Content-Type": "image/png"})
        i += 1
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                r.read()
                with lock:
                    answered["ok" if r.status == 200 else "other"] += 1
        except Exception:
            with lock:
                answered["other"] += 1


options = Options()
options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800", "--disable-gpu",
             "--enable-precise-memory-info", "--js-flags=--expose-gc"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
try:
    # First load: the sign-in page from a cold browser, then the Live page after signing in.
    t0 = time.monotonic()
    driver.get(base + "/")
    WebDriverWait(driver, 30, 0.01).until(lambda d: d.find_element(By.ID, "sign-in").is_displayed())
    sign_in_page_ms = (time.monotonic() - t0) * 1000
    navigation = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd];")
    driver.find_element(By.ID, "key").send_keys(key)
    t1 = time.monotonic()
    driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    WebDriverWait(driver, 30, 0.01).until(
        lambda d: d.find_element(By.ID, "page").get_attribute("data-loaded") == "true")
    live_loaded_ms = (time.monotonic() - t1) * 1000

    def sample():
        return driver.execute_script("""
            if (window.gc) window.gc();
            const page = document.getElementById('page');
            return { received: Number(page.dataset.received || 0), heap: performance.memory.usedJSHeapSize,
                     nodes: document.getElementsByTagName('*').length, cards: page.querySelectorAll('li.card').length };""")

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while time.monotonic() - start < duration:
        time.sleep(10)
        s = sample()
        with lock:
            s["answered"] = answered["ok"]
        s["t_s"] = round(time.monotonic() - start, 1)
        samples.append(s)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.monotonic() - start
    # The stream polls the store every 0.25 s: give the last events time to arrive.
    deadline = time.monotonic() + 10
    final = sample()
    while final["received"] < answered["ok"] and time.monotonic() < deadline:
        time.sleep(0.25)
        final = sample()
    first = next((s for s in samples if s["t_s"] >= 60), samples[0])
    print(json.dumps({
        "duration_s": round(elapsed, 1), "connections": connections,
        "first_load": {"sign_in_page_ms": round(sign_in_page_ms, 1), "dom_content_loaded_ms": round(navigation[0], 1),
                       "load_event_ms": round(navigation[1], 1), "live_page_loaded_after_sign_in_ms": round(live_loaded_ms, 1)},
        "inspections_answered_200": answered["ok"], "other_answers": answered["other"],
        "inspections_per_s": round(answered["ok"] / elapsed, 2),
        "events_received": final["received"], "events_per_s": round(final["received"] / elapsed, 2),
        "events_missing_at_end": answered["ok"] - final["received"],
        "heap_bytes": {"at_60_s": first["heap"], "end": final["heap"], "max": max(s["heap"] for s in samples)},
        "dom_nodes": {"at_60_s": first["nodes"], "end": final["nodes"]}, "cards_shown": final["cards"],
        "samples": samples,
    }))
finally:
    stop.set()
    driver.quit()
