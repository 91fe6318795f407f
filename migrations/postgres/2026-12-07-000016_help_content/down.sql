DROP TABLE document_chunks;
DROP TABLE documents;
DROP TABLE faqs;
DROP TABLE notices;
