"""imdb-lstm-tfx: a TFX pipeline that trains, gates and ships LSTM sentiment models on IMDB."""
import setuptools

setuptools.setup(
    name="imdb-lstm-tfx",
    version="0.1.0",
    description="TFX pipeline training, gating and pushing LSTM sentiment models on IMDB reviews",
    python_requires=">=3.10,<3.11",
    packages=setuptools.find_packages(include=["cli", "cli.*", "pipeline", "pipeline.*",
                                               "components", "components.*", "trainer",
                                               "trainer.*", "kubeflow", "kubeflow.*", "streaming",
                                               "streaming.*", "imdb_lstm"]),
    install_requires=["tfx[kfp]==1.16.0", "dill", "PyYAML", "Jinja2", "matplotlib"],
    # selenium drives Debian's chromium + chromium-driver (scripts/install_browser.sh).
    extras_require={"test": ["pytest", "pytest-timeout", "pytest-xdist", "selenium"]},
    package_data={"components.report": ["templates/*.j2"]},
    entry_points={"console_scripts": ["imdb-lstm=cli.main:main"]},
)
