//! Caps on what an uploaded file can make the server inflate and hold.
//!
//! An .xlsx or .zip of 1 MB can inflate to gigabytes, and an archive's own size fields
//! are written by whoever made it, so every member is read through [`inflate`], which
//! counts the bytes actually produced and stops at the first cap: the bytes per member,
//! the compression ratio of large members, and the bytes of all members together. XML
//! members are also scanned for over-long text (one cell's value) while they stream.

use std::io::Read;

use super::FileError;

/// The caps, from the settings (`import_*`); the defaults fit the bureau's lists with a
/// wide margin (the LibreOffice-written fixtures inflate to well under 1 MB, with ratios
/// under 20:1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one archive member may inflate to.
    pub member_bytes: u64,
    /// Most bytes a member may inflate to per compressed byte, once it is larger than
    /// [`Limits::ratio_from_bytes`].
    pub ratio: u64,
    pub ratio_from_bytes: u64,
    /// Longest text of one cell (also any one text run in a sheet's XML).
    pub cell_bytes: usize,
    /// Most rows a sheet or CSV may have (by default Excel's own limit, 1,048,576: a
    /// list that Excel cannot open is not one an office made).
    pub rows: usize,
}

const MB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            member_bytes: 200 * MB,
            ratio: 100,
            ratio_from_bytes: 10 * MB,
            cell_bytes: 32 * 1024,
            rows: 1_048_576,
        }
    }
}

/// Most members an archive may list.
const MAX_MEMBERS: usize = 10_000;

impl Limits {
    /// Most bytes all members of one archive may inflate to together, and most text a
    /// sheet may hold once its shared strings are put in their cells.
    pub fn total_bytes(&self) -> u64 {
        self.member_bytes.saturating_mul(2)
    }

    pub fn member_mb(&self) -> u64 {
        self.member_bytes / MB
    }
}

/// A member's name as people read it: names from Japanese Windows zippers are CP932
/// without the UTF-8 flag.
pub fn member_name<R: Read>(member: &zip::read::ZipFile<'_, R>) -> String {
    match member.name() {
        Ok(n) => n.into_owned(),
        Err(_) => encoding_rs::SHIFT_JIS
            .decode(member.name_raw())
            .0
            .into_owned(),
    }
}

/// Streams one member through `sink` in chunks, counting what it inflates to, and stops
/// at the first cap. `compressed` is the member's compressed size as read from the
/// archive, never more than the archive itself. Returns the inflated size.
pub fn inflate(
    member: &mut impl Read,
    name: &str,
    compressed: u64,
    limits: &Limits,
    mut sink: impl FnMut(&[u8]) -> Result<(), FileError>,
) -> Result<u64, FileError> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut inflated: u64 = 0;
    loop {
        let n = member
            .read(&mut buffer)
            .map_err(|e| FileError::Zip(e.to_string()))?;
        if n == 0 {
            return Ok(inflated);
        }
        inflated += n as u64;
        if inflated > limits.member_bytes {
            return Err(FileError::MemberTooLarge {
                member: name.to_string(),
                limit_mb: limits.member_mb(),
            });
        }
        if inflated > limits.ratio_from_bytes && inflated > limits.ratio * compressed.max(1) {
            return Err(FileError::CompressionRatio {
                member: name.to_string(),
                ratio: limits.ratio,
            });
        }
        sink(&buffer[..n])?;
    }
}

/// Finds text runs (between `>` and `<`) and tags longer than the cell cap while an XML
/// member streams past, without keeping it.
#[derive(Default)]
pub struct XmlScan {
    in_tag: bool,
    run: usize,
    /// The first tag's text, kept until it closes (the `uniqueCount` of a shared
    /// strings table is on its root tag, after the XML declaration).
    head: Vec<u8>,
    head_done: bool,
    /// `uniqueCount="N"` when the member declares one.
    pub unique_count: Option<u64>,
}

/// How far into a member its root tag is looked for.
const HEAD_BYTES: usize = 4096;

impl XmlScan {
    fn look_at_head(&mut self, chunk: &[u8]) {
        if self.head_done {
            return;
        }
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let text = String::from_utf8_lossy(&self.head);
        if let Some(at) = text.find("uniqueCount=\"") {
            let digits: String = text[at + 13..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if text[at + 13 + digits.len()..].starts_with('"') {
                self.unique_count = Some(digits.parse().unwrap_or(u64::MAX));
                self.head_done = true;
            }
        }
        if self.head.len() >= HEAD_BYTES {
            self.head_done = true;
        }
        if self.head_done {
            self.head = Vec::new();
        }
    }
}

impl XmlScan {
    pub fn feed(&mut self, chunk: &[u8], limits: &Limits) -> Result<(), FileError> {
        self.look_at_head(chunk);
        // A tag may carry attributes (a cell reference, a style): allow it a little more
        // than a cell's text.
        let tag_cap = limits.cell_bytes + 4096;
        for &b in chunk {
            match b {
                b'<' => {
                    self.in_tag = true;
                    self.run = 0;
                }
                b'>' => {
                    self.in_tag = false;
                    self.run = 0;
                }
                _ => {
                    self.run += 1;
                    let cap = if self.in_tag {
                        tag_cap
                    } else {
                        limits.cell_bytes
                    };
                    if self.run > cap {
                        return Err(FileError::CellTooLong {
                            limit_kb: limits.cell_bytes / 1024,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// Inflates every member of an archive once, discarding the bytes, so that a reader
/// handed the archive afterwards (calamine) cannot meet a member past the caps: each
/// member within its caps, all of them within the total, and no over-long text in XML.
pub fn inspect_archive(bytes: &[u8], limits: &Limits) -> Result<(), FileError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| FileError::Zip(e.to_string()))?;
    if archive.len() > MAX_MEMBERS {
        return Err(FileError::TooManyMembers(MAX_MEMBERS));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        // Every entry, whatever it says it is: a reader looking members up by name
        // inflates a "directory" or "symlink" all the same.
        let mut member = archive
            .by_index(i)
            .map_err(|e| FileError::Zip(e.to_string()))?;
        let name = member_name(&member);
        let compressed = member.compressed_size().min(bytes.len() as u64);
        let is_xml = name.ends_with(".xml") || name.ends_with(".rels");
        let mut scan = XmlScan::default();
        let size = inflate(&mut member, &name, compressed, limits, |chunk| {
            if is_xml {
                scan.feed(chunk, limits)?;
            }
            Ok(())
        })?;
        // calamine reserves room for as many shared strings as the table declares.
        if let Some(declared) = scan.unique_count
            && declared > size / 5 + 1
        {
            return Err(FileError::Excel(format!(
                "「{name}」の共有文字列の件数 {declared} が中身と合いません"
            )));
        }
        total += size;
        if total > limits.total_bytes() {
            return Err(FileError::ArchiveTooLarge {
                limit_mb: limits.total_bytes() / MB,
            });
        }
    }
    Ok(())
}

/// Reads one member into memory within the caps (a CSV or workbook inside a zip).
pub fn read_member<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: usize,
    archive_len: u64,
    limits: &Limits,
) -> Result<(String, Vec<u8>), FileError> {
    let mut member = archive
        .by_index(index)
        .map_err(|e| FileError::Zip(e.to_string()))?;
    let name = member_name(&member);
    let compressed = member.compressed_size().min(archive_len);
    let mut out = Vec::new();
    inflate(&mut member, &name, compressed, limits, |chunk| {
        out.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok((name, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            member_bytes: 1000,
            ratio: 10,
            ratio_from_bytes: 100,
            cell_bytes: 20,
            rows: 10,
        }
    }

    #[test]
    fn inflation_stops_at_the_member_cap() {
        let data = vec![b'a'; 5000];
        let mut seen = 0;
        let got = inflate(&mut data.as_slice(), "m", 5000, &small(), |c| {
            seen += c.len();
            Ok(())
        });
        assert!(matches!(got, Err(FileError::MemberTooLarge { .. })));
        // It stopped at the first chunk past the cap, not at the end of the member.
        assert_eq!(seen, 0);
    }

    #[test]
    fn large_members_need_a_sane_ratio() {
        let data = vec![b'a'; 500];
        // 500 bytes from 10 compressed: 50:1 over the 100-byte threshold.
        let got = inflate(&mut data.as_slice(), "m", 10, &small(), |_| Ok(()));
        assert!(matches!(got, Err(FileError::CompressionRatio { .. })));
        // The same bytes from 100 compressed (5:1) pass, and so does a small member.
        assert_eq!(
            inflate(&mut data.as_slice(), "m", 100, &small(), |_| Ok(())).unwrap(),
            500
        );
        let tiny = vec![b'a'; 90];
        assert_eq!(
            inflate(&mut tiny.as_slice(), "m", 1, &small(), |_| Ok(())).unwrap(),
            90
        );
    }

    #[test]
    fn a_shared_strings_count_is_read_from_the_root_tag() {
        let mut scan = XmlScan::default();
        scan.feed(br#"<?xml version="1.0"?><sst count="3" uniqueCo"#, &small())
            .unwrap();
        scan.feed(br#"unt="1000000000000000"><si>"#, &small())
            .unwrap();
        assert_eq!(scan.unique_count, Some(1_000_000_000_000_000));
        let mut plain = XmlScan::default();
        plain
            .feed(b"<worksheet><sheetData/></worksheet>", &small())
            .unwrap();
        assert_eq!(plain.unique_count, None);
    }

    #[test]
    fn xml_scan_finds_long_text_across_chunks() {
        let mut scan = XmlScan::default();
        scan.feed(b"<c><v>0123456789", &small()).unwrap();
        scan.feed(b"0123456789</v></c>", &small()).unwrap();
        let mut scan = XmlScan::default();
        scan.feed(b"<t>0123456789012345", &small()).unwrap();
        assert!(matches!(
            scan.feed(b"67890</t>", &small()),
            Err(FileError::CellTooLong { .. })
        ));
    }
}
