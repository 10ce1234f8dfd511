"""The evaluation report opened as a user opens it: Debian's headless Chromium and
chromium-driver (which `make test` installs), offline."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def start_browser(profile_dir: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # No sandbox as root; no background networking on a machine without internet.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def open_page(browser, path, screenshot):
    """Loads the file offline, screenshots the whole page; returns {data-key: text}."""
    browser.get("file://" + path)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, height + 100)
    assert browser.save_screenshot(screenshot)
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth]);")
    assert images, "the page has no images"
    broken = [alt for alt, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"
    keys = browser.execute_script(
        "const keys = {}; document.querySelectorAll('[data-key]').forEach("
        "e => keys[e.dataset.key] = e.textContent); return keys;")
    return {key: " ".join(text.split()) for key, text in keys.items()}, len(images)
