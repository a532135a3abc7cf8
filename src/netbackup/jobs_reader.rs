//! A direct reader of `/admin/jobs` pages, the agent's hot path.
//!
//! A page carries about 2 KB of JSON per job, of which the agent reads 14 attributes. This
//! reader walks the document once: it matches the member names [`JobsPage`] declares, converts
//! their values with the tolerant rules of [`super::lenient`], and skips everything else with
//! the byte scan of [`super::json_scan`], which only finds where each value ends.
//!
//! Tolerance is per record. What the agent does not read is not checked: bytes that are not
//! UTF-8, control characters or unknown escapes inside a skipped string keep the record. A
//! record that is broken in a member the agent reads (such a string that is not valid text, a
//! malformed number, a member that appears twice) is kept in the page with a
//! [`RecordDefect`], so the caller skips and counts that one record and keeps the others.
//! The document's structure is read strictly (brackets, commas, colons, quotes, literals,
//! nesting limited): a truncated or garbled document is refused as a whole.
//!
//! It handles the usual document shape only and refuses anything else (an unexpected type for
//! `data`, a resource that is not an object, ...). [`JobsPage::from_body`] then reads the body
//! with serde_json, so an unusual document is read, or refused with serde_json's message,
//! exactly as by the serde models.
//!
//! Differences from the serde models, all deliberate: floats are parsed with
//! `str::parse::<f64>` (correctly rounded; serde_json without `float_roundtrip` may be one ULP
//! off); a number beyond the range of `f64` (such as `1e400`) is an invalid value where
//! serde_json refuses the whole page; and the per-record tolerance above, where serde_json
//! refuses the whole page.

use std::borrow::Cow;

use super::json_scan::{Number, ScanError, Scanned, Scanner, Value, number, same_bytes, unescape};
use super::lenient::{FromJsonNumber, Num, Text};
use super::models::{
    CursorMeta, CursorPagination, JobAttributes, JobResource, JobsPage, PageDocument, RecordDefect,
};

/// Most member names of `attributes` remembered (a job carries about 85).
const MAX_LAYOUT: usize = 160;

/// The members of `attributes` the models read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    JobId,
    JobType,
    PolicyType,
    State,
    Status,
    JobQueueReason,
    KilobytesTransferred,
    NumberOfFiles,
    DedupRatio,
    StartTime,
    EndTime,
    LastUpdateTime,
    ClientName,
    PolicyName,
    ParentJobId,
    JobSubType,
    ScheduleName,
    DestinationStorageUnitName,
    DestinationMediaServerName,
    Try,
    Other,
}

impl Field {
    const NAMED: [Field; 20] = [
        Field::JobId,
        Field::JobType,
        Field::PolicyType,
        Field::State,
        Field::Status,
        Field::JobQueueReason,
        Field::KilobytesTransferred,
        Field::NumberOfFiles,
        Field::DedupRatio,
        Field::StartTime,
        Field::EndTime,
        Field::LastUpdateTime,
        Field::ClientName,
        Field::PolicyName,
        Field::ParentJobId,
        Field::JobSubType,
        Field::ScheduleName,
        Field::DestinationStorageUnitName,
        Field::DestinationMediaServerName,
        Field::Try,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::JobId => "jobId",
            Field::JobType => "jobType",
            Field::PolicyType => "policyType",
            Field::State => "state",
            Field::Status => "status",
            Field::JobQueueReason => "jobQueueReason",
            Field::KilobytesTransferred => "kilobytesTransferred",
            Field::NumberOfFiles => "numberOfFiles",
            Field::DedupRatio => "dedupRatio",
            Field::StartTime => "startTime",
            Field::EndTime => "endTime",
            Field::LastUpdateTime => "lastUpdateTime",
            Field::ClientName => "clientName",
            Field::PolicyName => "policyName",
            Field::ParentJobId => "parentJobId",
            Field::JobSubType => "jobSubType",
            Field::ScheduleName => "scheduleName",
            Field::DestinationStorageUnitName => "destinationStorageUnitName",
            Field::DestinationMediaServerName => "destinationMediaServerName",
            Field::Try => "try",
            Field::Other => "",
        }
    }

    /// Whether the field only labels the per-client families or describes a job event: a
    /// broken or repeated one leaves the job out of those families (or the event without that
    /// attribute), never out of the other gauges.
    fn is_label_only(self) -> bool {
        matches!(
            self,
            Field::ClientName
                | Field::PolicyName
                | Field::ParentJobId
                | Field::JobSubType
                | Field::ScheduleName
                | Field::DestinationStorageUnitName
                | Field::DestinationMediaServerName
                | Field::Try
        )
    }

    /// The field named `name` (unescaped bytes), compared by length first.
    fn of(name: &[u8]) -> Self {
        Self::NAMED
            .into_iter()
            .find(|f| f.name().as_bytes() == name)
            .unwrap_or(Field::Other)
    }
}

impl<'a> PageDocument<'a> for JobsPage<'a> {
    /// The usual document is read by the direct reader; anything it does not handle is read by
    /// serde_json with the same models, so it is accepted or refused as by them, with
    /// serde_json's message.
    fn from_body(body: &'a [u8]) -> Result<Self, serde_json::Error> {
        jobs_page(body).or_else(|_| serde_json::from_slice(body))
    }
}

/// Reads a whole `/admin/jobs` document.
pub(crate) fn jobs_page(bytes: &[u8]) -> Scanned<JobsPage<'_>> {
    let mut reader = JobsReader {
        scan: Scanner::new(bytes),
        layout: Vec::new(),
    };
    let page = reader.page()?;
    if !reader.scan.at_end() {
        return reader.scan.refuse();
    }
    Ok(page)
}

/// A value the record cannot be read with: the record is kept in the page with this defect,
/// and the caller skips and counts it.
struct DefectiveRecord(RecordDefect);

fn num<T: FromJsonNumber>(value: Value<'_>, field: Field) -> Result<Num<T>, DefectiveRecord> {
    Ok(match value {
        Value::Null => Num::Absent,
        Value::Bool(_) | Value::Compound => Num::Invalid,
        Value::Str(s) => Num::from_quoted(&s),
        Value::Number(text, integral) => match number(text, integral) {
            Number::U64(v) => Num::from_u64(v),
            Number::I64(v) => Num::from_i64(v),
            Number::F64(v) => Num::from_f64(v),
        },
        Value::BadText => return Err(DefectiveRecord(RecordDefect::BadText(field.name()))),
        Value::BadNumber => return Err(DefectiveRecord(RecordDefect::BadNumber(field.name()))),
    })
}

fn text(value: Value<'_>, field: Field) -> Result<Text<'_>, DefectiveRecord> {
    Ok(match value {
        Value::Null => Text::Absent,
        Value::Bool(b) => Text::Valid(Cow::Owned(b.to_string())),
        Value::Str(s) => Text::Valid(s),
        Value::Compound => Text::Invalid,
        Value::Number(t, integral) => match number(t, integral) {
            Number::U64(v) => Text::Valid(Cow::Owned(v.to_string())),
            Number::I64(v) => Text::Valid(Cow::Owned(v.to_string())),
            Number::F64(v) if v.is_finite() => Text::Valid(Cow::Owned(v.to_string())),
            Number::F64(_) => Text::Invalid,
        },
        Value::BadText => return Err(DefectiveRecord(RecordDefect::BadText(field.name()))),
        Value::BadNumber => return Err(DefectiveRecord(RecordDefect::BadNumber(field.name()))),
    })
}

/// The scan of one jobs page, and what it learned of the jobs' layout.
struct JobsReader<'a> {
    scan: Scanner<'a>,
    /// The member names of the attributes read so far, in document order, as their raw
    /// tokens (quotes and colon included, no escapes) with the field each one fills.
    layout: Vec<(&'a [u8], Field)>,
}

impl<'a> JobsReader<'a> {
    /// A value of the document's structure (a cursor): one that is not valid refuses the
    /// page.
    fn structural_text(&mut self) -> Scanned<Text<'a>> {
        let at = self.scan.pos;
        text(self.scan.value()?, Field::Other).map_err(|_| ScanError(at))
    }

    /// `null` as `None`, else `read`.
    fn optional<T>(&mut self, read: fn(&mut Self) -> Scanned<T>) -> Scanned<Option<T>> {
        if self.scan.null()? {
            Ok(None)
        } else {
            read(self).map(Some)
        }
    }

    fn page(&mut self) -> Scanned<JobsPage<'a>> {
        self.scan.open(b'{')?;
        let mut seen = 0;
        let mut data = Vec::new();
        let mut meta = None;
        let mut key = self.scan.first_key()?;
        while let Some(k) = key {
            match &*k {
                b"data" => {
                    self.scan.once(&mut seen, 0)?;
                    data = self.resources()?;
                }
                b"meta" => {
                    self.scan.once(&mut seen, 1)?;
                    meta = self.optional(Self::cursor_meta)?;
                }
                _ => self.scan.skip()?,
            }
            key = self.scan.next_key()?;
        }
        self.scan.close();
        Ok(JobsPage { data, meta })
    }

    fn resources(&mut self) -> Scanned<Vec<JobResource<'a>>> {
        self.scan.open(b'[')?;
        let mut resources: Vec<JobResource<'a>> = Vec::with_capacity(100);
        let mut first = true;
        while self.scan.more_items(first)? {
            first = false;
            // Filled in place: a resource is a few hundred bytes.
            resources.push(JobResource {
                attributes: None,
                defect: None,
            });
            if let Some(slot) = resources.last_mut() {
                self.resource(slot)?;
            }
        }
        self.scan.close();
        Ok(resources)
    }

    fn resource(&mut self, slot: &mut JobResource<'a>) -> Scanned<()> {
        self.scan.open(b'{')?;
        let mut seen = false;
        let mut key = self.scan.first_key()?;
        while let Some(k) = key {
            if &*k == b"attributes" {
                if seen {
                    slot.defect
                        .get_or_insert(RecordDefect::Duplicate("attributes"));
                }
                seen = true;
                if self.scan.null()? {
                    slot.attributes = None;
                } else {
                    let attributes = slot.attributes.insert(JobAttributes::default());
                    if let Err(DefectiveRecord(defect)) = self.attributes(attributes)? {
                        slot.defect.get_or_insert(defect);
                    }
                }
            } else {
                self.scan.skip()?;
            }
            key = self.scan.next_key()?;
        }
        self.scan.close();
        Ok(())
    }

    /// Reads the attributes into `a`: the outer result is the document's structure, the
    /// inner one the record's first defect (the rest of the record is still read past).
    fn attributes(&mut self, a: &mut JobAttributes<'a>) -> Scanned<Result<(), DefectiveRecord>> {
        self.scan.open(b'{')?;
        if self.scan.peek() == Some(b'}') {
            self.scan.pos += 1;
            self.scan.close();
            return Ok(Ok(()));
        }
        let mut seen = 0u32;
        let mut expected = 0;
        let mut defect = None;
        loop {
            let field = self.attribute_name(&mut expected)?;
            if field == Field::Other {
                match self.scan.bytes.get(self.scan.pos) {
                    Some(b'"') => self.scan.skip_string()?,
                    Some(b'0'..=b'9') => {
                        self.scan.number_token();
                    }
                    _ => self.scan.skip()?,
                }
            } else {
                let value = self.scan.value()?;
                let read = if seen & (1 << field as u32) != 0 {
                    if field.is_label_only() {
                        // The first one stands; the job stays in every other gauge.
                        Ok(())
                    } else {
                        Err(DefectiveRecord(RecordDefect::Duplicate(field.name())))
                    }
                } else {
                    seen |= 1 << field as u32;
                    Self::fill(a, field, value)
                };
                if let Err(bad) = read {
                    defect.get_or_insert(bad);
                }
            }
            match self.scan.bytes.get(self.scan.pos) {
                Some(b',') => self.scan.pos += 1,
                Some(b'}') => {
                    self.scan.pos += 1;
                    break;
                }
                _ => match self.scan.peek() {
                    Some(b',') => self.scan.pos += 1,
                    Some(b'}') => {
                        self.scan.pos += 1;
                        break;
                    }
                    _ => return self.scan.refuse(),
                },
            }
        }
        self.scan.close();
        Ok(defect.map_or(Ok(()), Err))
    }

    /// Stores the value of a declared member.
    fn fill(
        a: &mut JobAttributes<'a>,
        field: Field,
        value: Value<'a>,
    ) -> Result<(), DefectiveRecord> {
        match field {
            Field::JobId => a.job_id = num(value, field)?,
            Field::JobType => a.job_type = text(value, field)?,
            Field::PolicyType => a.policy_type = text(value, field)?,
            Field::State => a.state = text(value, field)?,
            Field::Status => a.status = num(value, field)?,
            Field::JobQueueReason => a.job_queue_reason = num(value, field)?,
            Field::KilobytesTransferred => a.kilobytes_transferred = num(value, field)?,
            Field::NumberOfFiles => a.number_of_files = num(value, field)?,
            Field::DedupRatio => a.dedup_ratio = num(value, field)?,
            Field::StartTime => a.start_time = text(value, field)?,
            Field::EndTime => a.end_time = text(value, field)?,
            Field::LastUpdateTime => a.last_update_time = text(value, field)?,
            // Names only label the per-client families: a broken one leaves that job out of
            // them, never out of the other gauges.
            Field::ClientName => a.client_name = text(value, field).unwrap_or(Text::Invalid),
            Field::PolicyName => a.policy_name = text(value, field).unwrap_or(Text::Invalid),
            // Details of a job event: a broken one leaves that attribute out of the event.
            Field::ParentJobId => a.parent_job_id = num(value, field).unwrap_or(Num::Invalid),
            Field::JobSubType => a.job_sub_type = text(value, field).unwrap_or(Text::Invalid),
            Field::ScheduleName => a.schedule_name = text(value, field).unwrap_or(Text::Invalid),
            Field::DestinationStorageUnitName => {
                a.destination_storage_unit_name = text(value, field).unwrap_or(Text::Invalid)
            }
            Field::DestinationMediaServerName => {
                a.destination_media_server_name = text(value, field).unwrap_or(Text::Invalid)
            }
            Field::Try => a.try_count = num(value, field).unwrap_or(Num::Invalid),
            Field::Other => {}
        }
        Ok(())
    }

    /// Reads the name of a member of `attributes` and its colon. Consecutive jobs carry the
    /// same names in the same order, so the name is first compared, as raw bytes, with the one
    /// at this place of the layout learned from earlier jobs (or the next two, for jobs that
    /// lack a member); only a name that differs is scanned and matched, and the layout
    /// resynchronised.
    #[inline]
    fn attribute_name(&mut self, expected: &mut usize) -> Scanned<Field> {
        if self.scan.bytes.get(self.scan.pos) != Some(&b'"') {
            self.scan.ws();
        }
        for at in *expected..(*expected + 3).min(self.layout.len()) {
            if let Some(&(name, field)) = self.layout.get(at)
                && self
                    .scan
                    .bytes
                    .get(self.scan.pos..self.scan.pos + name.len())
                    .is_some_and(|here| same_bytes(here, name))
            {
                self.scan.pos += name.len();
                *expected = at + 1;
                return Ok(field);
            }
        }
        if self.scan.bytes.get(self.scan.pos) != Some(&b'"') {
            return self.scan.refuse();
        }
        let start = self.scan.pos;
        let (name, escaped) = self.scan.raw_string()?;
        let field = if escaped {
            unescape(name).map_or(Field::Other, |n| Field::of(&n))
        } else {
            Field::of(name)
        };
        // The layout keeps the name with its colon when nothing separates them.
        let tight = self.scan.bytes.get(self.scan.pos) == Some(&b':');
        self.scan.eat(b':')?;
        if let (false, true, Some(raw)) =
            (escaped, tight, self.scan.bytes.get(start..self.scan.pos))
        {
            match self
                .layout
                .iter()
                .position(|&(known, _)| same_bytes(known, raw))
            {
                Some(at) => *expected = at + 1,
                None if self.layout.len() < MAX_LAYOUT => {
                    // A name earlier jobs lacked: the layout becomes the union, in order.
                    self.layout.insert(*expected, (raw, field));
                    *expected += 1;
                }
                None => {}
            }
        }
        Ok(field)
    }

    fn cursor_meta(&mut self) -> Scanned<CursorMeta<'a>> {
        self.scan.open(b'{')?;
        let mut seen = 0;
        let mut pagination = None;
        let mut key = self.scan.first_key()?;
        while let Some(k) = key {
            if &*k == b"pagination" {
                self.scan.once(&mut seen, 0)?;
                pagination = self.optional(Self::cursor_pagination)?;
            } else {
                self.scan.skip()?;
            }
            key = self.scan.next_key()?;
        }
        self.scan.close();
        Ok(CursorMeta { pagination })
    }

    fn cursor_pagination(&mut self) -> Scanned<CursorPagination<'a>> {
        self.scan.open(b'{')?;
        let mut seen = 0;
        let mut next = Text::Absent;
        let mut key = self.scan.first_key()?;
        while let Some(k) = key {
            if &*k == b"next" {
                self.scan.once(&mut seen, 0)?;
                next = self.structural_text()?;
            } else {
                self.scan.skip()?;
            }
            key = self.scan.next_key()?;
        }
        self.scan.close();
        Ok(CursorPagination { next })
    }
}

#[cfg(test)]
mod tests;
