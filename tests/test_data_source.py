"""Resolving --data: directories, archives, and URLs downloaded once and verified."""
import hashlib
import http.server
import os
import re
import threading
import time

import pytest

import synthetic_imdb
from components import data_source
from components.imdb_reader import IngestError


def test_archive_path(tiny_archive, tmp_path):
    source = data_source.resolve(tiny_archive, cache_dir=str(tmp_path))
    assert source.uri == tiny_archive and source.pattern == os.path.basename(tiny_archive)


def test_directory_holding_aclImdb(tiny_tree, tmp_path):
    source = data_source.resolve(tiny_tree, cache_dir=str(tmp_path))
    assert (source.input_base, source.pattern) == (tiny_tree, "aclImdb/*/*/*.txt")


def test_the_aclImdb_directory_itself(tiny_tree, tmp_path):
    root = os.path.join(tiny_tree, "aclImdb")
    assert data_source.resolve(root, cache_dir=str(tmp_path)).pattern == "*/*/*.txt"


def test_directory_missing_a_class_folder(tmp_path):
    tree = synthetic_imdb.write_tree(str(tmp_path), per_folder=1)
    os.rename(os.path.join(tree, "aclImdb", "test", "pos"), os.path.join(tree, "elsewhere"))
    with pytest.raises(IngestError, match="missing folder.*test/pos"):
        data_source.resolve(tree, cache_dir=str(tmp_path))


def test_missing_path(tmp_path):
    with pytest.raises(IngestError, match="no such archive"):
        data_source.resolve(str(tmp_path / "nope.tar.gz"), cache_dir=str(tmp_path))
    with pytest.raises(IngestError, match="neither a directory"):
        data_source.resolve(str(tmp_path / "nope"), cache_dir=str(tmp_path))


class _Server:
    """A tiny HTTP server on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, root):
        self.requests = 0
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=root, **kwargs)

            def do_GET(self):
                server.requests += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    synthetic_imdb.write_archive(str(served / "imdb.tar.gz"), per_folder=2)
    s = _Server(str(served))
    yield s, hashlib.sha256((served / "imdb.tar.gz").read_bytes()).hexdigest()
    s.httpd.shutdown()


def test_url_is_downloaded_once_and_verified(tmp_path, server):
    srv, sha = server
    cache = str(tmp_path / "cache")
    source = data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=cache, sha256=sha)
    assert source.uri == os.path.join(cache, "imdb.tar.gz")
    assert data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=cache, sha256=sha) == source
    assert srv.requests == 1


def test_url_with_wrong_checksum_is_rejected_and_not_cached(tmp_path, server):
    srv, _ = server
    cache = tmp_path / "cache"
    with pytest.raises(IngestError, match="download rejected: SHA-256"):
        data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=str(cache), sha256="0" * 64)
    assert os.listdir(cache) == []


def test_unreachable_url_says_how_to_pass_a_local_copy(tmp_path, server):
    srv, _ = server
    port = srv.httpd.server_address[1]
    srv.httpd.shutdown()
    srv.httpd.server_close()
    with pytest.raises(IngestError, match="cannot download") as error:
        data_source.resolve(f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz",
                            cache_dir=str(tmp_path / "cache"))
    assert "--data /path/to/aclImdb_v1.tar.gz" in str(error.value)



def test_an_error_page_under_an_archive_name_is_rejected_and_a_fixed_server_then_works(
        tmp_path, server):
    srv, _ = server
    good = (tmp_path / "served" / "imdb.tar.gz").read_bytes()
    (tmp_path / "served" / "imdb.tar.gz").write_bytes(b"<html><body>503 Service Unavailable")
    cache = tmp_path / "cache"
    with pytest.raises(IngestError, match=r"imdb.tar.gz: download rejected: is not a gzipped tar "
                                          r"archive \(ReadError; it starts b'<html><body>503"):
        data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=str(cache))
    assert os.listdir(cache) == []
    (tmp_path / "served" / "imdb.tar.gz").write_bytes(good)
    source = data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=str(cache))
    assert open(source.uri, "rb").read() == good


def test_a_cached_copy_that_fails_the_checks_is_fetched_again(tmp_path, server, caplog):
    srv, _ = server
    cache = tmp_path / "cache"
    data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=str(cache))
    cached = cache / "imdb.tar.gz"
    cached.write_bytes(cached.read_bytes()[:100])  # damaged since it was verified
    data_source.resolve(srv.url("imdb.tar.gz"), cache_dir=str(cache))
    size = len((tmp_path / "served" / "imdb.tar.gz").read_bytes())
    assert f"is 100 bytes, {size} when downloaded; downloading again" in caplog.text
    assert srv.requests == 2 and cached.read_bytes() == (
        tmp_path / "served" / "imdb.tar.gz").read_bytes()


def test_a_stalled_download_is_retried_then_named(tmp_path):
    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b")
            self.wfile.flush()
            time.sleep(2)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/imdb.tar.gz"
    with pytest.raises(IngestError, match=f"^cannot download {url}: stalled after 0.0 MB "
                                          r"\(.*no data for 0.3 s or the connection dropped\), "
                                          "2 times$"):
        data_source.download(url, str(tmp_path / "cache"), attempts=2, timeout=0.3)
    httpd.shutdown()
    assert os.listdir(tmp_path / "cache") == []


@pytest.mark.parametrize("target", ["nowhere.txt", "1_9.txt"])  # broken; a link to itself
def test_a_review_path_that_links_to_nothing_is_named(tmp_path, target):
    synthetic_imdb.write_tree(str(tmp_path), per_folder=2)
    link = tmp_path / "aclImdb" / "train" / "pos" / "1_9.txt"
    os.symlink(target, link)
    with pytest.raises(IngestError, match="^" + re.escape(
            f"{link}: a symbolic link to nothing (broken, or a loop: {target}); remove it")):
        data_source.resolve(str(tmp_path), cache_dir=str(tmp_path / "cache"))
