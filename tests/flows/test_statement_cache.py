"""flows.statement_cache: a document's statements are segmented again only when it or what
segmenting and regions read changed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from flows import io
from flows.cache_store import CacheStore
from flows.statement_cache import Segmented, cached_statements, merge, store_statements
from pipeline.config import Config
from pipeline.records import Document, Region
from pipeline.regions import DocumentMetadata, attribute_regions
from pipeline.segment import segment_document

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _segmented(documents: list[Document], data: io.ProjectData) -> dict[str, Segmented]:
    return {
        d.name: attribute_regions(
            d,
            segment_document(d, data.config.segment, data.abbreviations),
            data.gazetteer,
            data.metadata.get(d.name),
        )
        for d in documents
    }


def test_only_changed_documents_and_metadata_miss(
    documents: dict[str, Document], config: Config, tmp_path: Path
) -> None:
    store = CacheStore(tmp_path)
    data = io.load_project_data(config, CORPUS)
    docs = [documents[k] for k in sorted(documents)][:3]
    done = _segmented(docs, data)
    store_statements(docs, done, data, store)
    assert cached_statements(docs, data, store) == done
    statements, infos = merge({}, done)
    assert [i.name for i in infos] == sorted(d.name for d in docs)
    assert [s.document for s in statements] == sorted(s.document for s in statements)

    changed = replace(docs[0], blocks=docs[0].blocks[:-1])
    assert set(cached_statements([changed, *docs[1:]], data, store)) == {d.name for d in docs[1:]}

    row = DocumentMetadata(region=Region.SODRA)
    relabelled = replace(data, metadata={**data.metadata, docs[1].name: row})
    assert set(cached_statements(docs, relabelled, store)) == {docs[0].name, docs[2].name}


def test_a_document_without_a_result_is_not_stored(
    documents: dict[str, Document], config: Config, tmp_path: Path
) -> None:
    store = CacheStore(tmp_path)
    data = io.load_project_data(config, CORPUS)
    docs = [documents[k] for k in sorted(documents)][:2]
    done = _segmented(docs[:1], data)  # the second failed at a stage: no result for it
    store_statements(docs, done, data, store)
    assert set(cached_statements(docs, data, store)) == {docs[0].name}
