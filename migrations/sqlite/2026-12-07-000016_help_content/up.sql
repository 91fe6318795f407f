-- お知らせ, よくある質問 and 静的コンテンツ (issue 17): what the prefecture tells the
-- institutions, and the manuals they download.

-- A notice shows between publish_from and publish_until (open-ended when NULL) on the
-- institutions' home page, and on the sign-in page when on_login.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    important BOOLEAN NOT NULL DEFAULT 0,
    on_login BOOLEAN NOT NULL DEFAULT 0,
    publish_from TIMESTAMP NOT NULL,
    publish_until TIMESTAMP,
    created_by INTEGER REFERENCES users(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX notices_by_window ON notices (prefecture_id, publish_from);

-- search_key: question and answer in the search's normalisation, for the FAQ search.
CREATE TABLE faqs (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    category TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    search_key TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX faqs_by_category ON faqs (prefecture_id, category, position);

-- A document's bytes are kept in chunks, so a download is streamed chunk by chunk
-- rather than loaded whole.
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    prefecture_id INTEGER NOT NULL REFERENCES areas(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id),
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE document_chunks (
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (document_id, seq)
);
