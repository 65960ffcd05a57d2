//! The `EXPOSE_METRICS` figures of one request (the load harness reads them from the
//! `x-store-metrics` header): Durable Object calls, and the SQL work every object call
//! reported in its `x-sql` header, summed over the calls (a login makes three).

/// What one request cost: object calls and the SQL they ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Durable Object calls made.
    pub do_calls: u32,
    /// SQL statements run, over every call.
    pub sql_statements: u64,
    /// Rows read, over every call.
    pub rows_read: u64,
    /// Rows written, over every call.
    pub rows_written: u64,
    /// Calls that answered with a readable `x-sql` header.
    pub sql_reports: u32,
}

impl Metrics {
    /// Counts one object call, made whether or not it answers.
    pub fn call_made(&mut self) {
        self.do_calls += 1;
    }

    /// Adds the `x-sql` value an object call answered with
    /// (`sql_statements=N;rows_read=N;rows_written=N`); an unreadable one adds nothing.
    pub fn add_sql(&mut self, x_sql: Option<&str>) {
        if let Some((s, r, w)) = x_sql.and_then(parse) {
            self.sql_statements += s;
            self.rows_read += r;
            self.rows_written += w;
            self.sql_reports += 1;
        }
    }

    /// The `x-store-metrics` header value.
    pub fn header(&self) -> String {
        let mut out = format!("do_calls={}", self.do_calls);
        if self.sql_reports > 0 {
            out.push_str(&format!(
                ";sql_statements={};rows_read={};rows_written={}",
                self.sql_statements, self.rows_read, self.rows_written
            ));
        }
        out
    }
}

fn parse(v: &str) -> Option<(u64, u64, u64)> {
    let (mut s, mut r, mut w) = (None, None, None);
    for part in v.split(';') {
        let (k, n) = part.split_once('=')?;
        let n = n.trim().parse::<u64>().ok()?;
        match k.trim() {
            "sql_statements" => s = Some(n),
            "rows_read" => r = Some(n),
            "rows_written" => w = Some(n),
            _ => {}
        }
    }
    Some((s?, r?, w?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the load harness's step-up work: the figures of the last object call replaced
    /// the others', so a login (three calls) reported only its last call's statements.
    #[test]
    fn every_calls_sql_is_summed() {
        let mut m = Metrics::default();
        for sql in [
            "sql_statements=2;rows_read=1;rows_written=0",
            "sql_statements=1;rows_read=0;rows_written=0",
            "sql_statements=5;rows_read=3;rows_written=4",
        ] {
            m.call_made();
            m.add_sql(Some(sql));
        }
        assert_eq!(
            m.header(),
            "do_calls=3;sql_statements=8;rows_read=4;rows_written=4"
        );
    }

    #[test]
    fn no_calls_and_unreadable_headers() {
        assert_eq!(Metrics::default().header(), "do_calls=0");
        let mut m = Metrics::default();
        m.call_made();
        m.add_sql(None);
        m.call_made();
        m.add_sql(Some("sql_statements=x"));
        // A call that failed before answering is still a call.
        m.call_made();
        assert_eq!(m.header(), "do_calls=3");
        assert_eq!(m.sql_reports, 0);
    }
}
