//! Small-count suppression of linked tables (domain.md §5), for one count column: the
//! municipalities' cells, their sums per 保健所 and per 二次医療圏 (two groupings that
//! cross), and the prefecture total, published together.
//!
//! The tables form one bipartite multigraph: rows are the 保健所 and a margin row,
//! columns the 二次医療圏 and a margin column; each municipality is an edge (its 保健所,
//! its 二次医療圏), each 保健所 total an edge to the margin column, each 二次医療圏 total
//! an edge from the margin row, the prefecture total the edge between the margins.
//! Negating the single-margin cells makes every row and column sum to zero, so whatever
//! a reader can change in the masked cells without contradicting what is published is a
//! circulation over the masked edges. The largest value a masked cell can hold is
//! therefore its value plus a maximum flow, and a cell is protected when that largest
//! value reaches its threshold: the reader cannot prove it is 1–9 (1–19 where the
//! threshold is 20). Complements are added along cheapest augmenting paths (by the
//! value they hide); zeros are never complements.
//!
//! Provisional: not used by any page yet (issue 16 builds the tables on it).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Where a cell sits in the linked tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A municipality: its 保健所 (row) and 二次医療圏 (column).
    Municipality { row: usize, column: usize },
    /// A 保健所's total.
    RowTotal(usize),
    /// A 二次医療圏's total.
    ColumnTotal(usize),
    /// The prefecture's total.
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub place: Place,
    pub value: u64,
    /// Values from 1 to `threshold − 1` must not be published or provable.
    pub threshold: u64,
    /// Masked whatever its value (a municipality under 2,000 people): a reader cannot
    /// tell it is at least 1.
    pub always_hidden: bool,
    /// Built from fewer institutions than the rules allow (and not zero): masked, and
    /// must not be exact, though its value may be large.
    pub too_few: bool,
    /// Set when the institutions' own published values would let a reader of this
    /// cell compute one of their masked values exactly: the way this cell must be able
    /// to move (masked, by at least one) so that none can be.
    pub guard: Option<Direction>,
}

/// Which way a masked cell must be able to move, as far as a reader can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// The institutions' own values under a cell that their rows publish masked: how many,
/// and their sum. Each is 1 to `own_max` (the 1–9 rule on one institution's row).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaskedOwn {
    pub count: u64,
    pub sum: u64,
}

impl MaskedOwn {
    /// A reader who knows the cell subtracts the institutions' shown values and is left
    /// with `sum` over `count` values of 1 to `own_max`. One of them is exact when
    /// there is one (then the cell may move either way; up unless it is at the top) or
    /// when all are at the bottom or all at the top.
    pub fn guard(self, own_max: u64) -> Option<Direction> {
        match self.count {
            0 => None,
            1 if self.sum < own_max => Some(Direction::Up),
            1 => Some(Direction::Down),
            k if self.sum == k => Some(Direction::Up),
            k if self.sum == k * own_max => Some(Direction::Down),
            _ => None,
        }
    }

    fn add(&mut self, other: MaskedOwn) {
        self.count += other.count;
        self.sum += other.sum;
    }
}

/// A municipality's count, as the tables are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    pub row: usize,
    pub column: usize,
    pub value: u64,
    pub threshold: u64,
    pub always_hidden: bool,
    /// How many institutions the value is built from.
    pub institutions: u64,
    /// Those of them whose own value is published masked.
    pub masked_own: MaskedOwn,
}

/// The thresholds of the sums: 保健所, 二次医療圏, the prefecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SumThresholds {
    pub area: u64,
    pub medical_area: u64,
    pub total: u64,
}

impl SumThresholds {
    pub fn all(threshold: u64) -> SumThresholds {
        SumThresholds {
            area: threshold,
            medical_area: threshold,
            total: threshold,
        }
    }
}

/// The cells of one count column: the municipalities in the order given, then the
/// 保健所 totals, the 二次医療圏 totals and the prefecture total (each with its own
/// threshold from `sum_thresholds`). A non-zero cell built from fewer than
/// `min_institutions` institutions is masked too (0: no such rule). `own_max` is the
/// largest value one institution's row publishes masked (9 under the 1–9 rule).
pub fn linked_cells(
    rows: usize,
    columns: usize,
    leaves: &[Leaf],
    sum_thresholds: SumThresholds,
    min_institutions: u64,
    own_max: u64,
) -> Vec<Cell> {
    #[derive(Clone, Copy, Default)]
    struct Sum {
        value: u64,
        institutions: u64,
        masked_own: MaskedOwn,
    }
    impl Sum {
        fn add(&mut self, l: &Leaf) {
            self.value += l.value;
            self.institutions += l.institutions;
            self.masked_own.add(l.masked_own);
        }
    }
    let too_few = |value: u64, institutions: u64| value > 0 && institutions < min_institutions;
    let mut row_sums = vec![Sum::default(); rows];
    let mut column_sums = vec![Sum::default(); columns];
    let mut total = Sum::default();
    let mut cells: Vec<Cell> = leaves
        .iter()
        .map(|l| {
            row_sums[l.row].add(l);
            column_sums[l.column].add(l);
            total.add(l);
            Cell {
                place: Place::Municipality {
                    row: l.row,
                    column: l.column,
                },
                value: l.value,
                threshold: l.threshold,
                always_hidden: l.always_hidden,
                too_few: too_few(l.value, l.institutions),
                guard: l.masked_own.guard(own_max),
            }
        })
        .collect();
    let sum = |place, s: &Sum| Cell {
        place,
        value: s.value,
        threshold: match place {
            Place::RowTotal(_) => sum_thresholds.area,
            Place::ColumnTotal(_) => sum_thresholds.medical_area,
            _ => sum_thresholds.total,
        },
        always_hidden: false,
        too_few: too_few(s.value, s.institutions),
        guard: s.masked_own.guard(own_max),
    };
    cells.extend(
        row_sums
            .iter()
            .enumerate()
            .map(|(r, s)| sum(Place::RowTotal(r), s)),
    );
    cells.extend(
        column_sums
            .iter()
            .enumerate()
            .map(|(c, s)| sum(Place::ColumnTotal(c), s)),
    );
    cells.push(sum(Place::Total, &total));
    cells
}

/// The publication rules of domain.md §5 that set a municipality's cells apart (the
/// prefecture keeps them as settings; these are the defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Below this, no count from 1 is shown (areas and the prefecture use it too).
    pub threshold: u64,
    /// A municipality under this many people uses `small_threshold`.
    pub small_population: u64,
    pub small_threshold: u64,
    /// A municipality under this many people has none of its counts shown.
    pub hidden_below: u64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            threshold: 10,
            small_population: 25_000,
            small_threshold: 20,
            hidden_below: 2_000,
        }
    }
}

impl Rules {
    /// A municipality's threshold, and whether its cells are hidden whatever they hold.
    /// A municipality whose population is not known gets the stricter threshold.
    pub fn for_municipality(&self, population: Option<u64>) -> (u64, bool) {
        match population {
            Some(p) if p < self.hidden_below => (self.small_threshold, true),
            Some(p) if p < self.small_population => (self.small_threshold, false),
            Some(_) => (self.threshold, false),
            None => (self.small_threshold, false),
        }
    }
}

/// Why a cell is masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    Shown,
    /// Its own value is 1 to threshold − 1, or the rules hide it.
    Primary,
    /// Hidden to protect another cell.
    Complement,
}

/// The outcome: one mask per cell, in the cells' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub masks: Vec<Mask>,
    pub complements: usize,
}

impl Cell {
    fn is_primary(&self) -> bool {
        self.always_hidden
            || self.too_few
            || self.guard.is_some()
            || (1..self.threshold).contains(&self.value)
    }

    /// What a reader knows the cell holds at least, once it is masked.
    fn lower_bound(&self) -> u64 {
        if self.always_hidden { 0 } else { 1 }
    }

    fn needs_protection(&self) -> bool {
        (1..self.threshold).contains(&self.value)
    }
}

const INFINITE: u64 = u64::MAX / 4;

/// The graph's nodes: rows 0..rows, the margin row, the columns, the margin column.
struct Layout {
    rows: usize,
    columns: usize,
}

impl Layout {
    fn nodes(&self) -> usize {
        self.rows + self.columns + 2
    }
    fn margin_row(&self) -> usize {
        self.rows
    }
    fn column(&self, c: usize) -> usize {
        self.rows + 1 + c
    }
    fn margin_column(&self) -> usize {
        self.rows + 1 + self.columns
    }

    /// (row node, column node, +1 for cells that keep their sign, −1 for the margins').
    fn edge(&self, place: Place) -> (usize, usize, bool) {
        match place {
            Place::Municipality { row, column } => (row, self.column(column), true),
            Place::RowTotal(r) => (r, self.margin_column(), false),
            Place::ColumnTotal(c) => (self.margin_row(), self.column(c), false),
            Place::Total => (self.margin_row(), self.margin_column(), true),
        }
    }
}

#[derive(Clone, Copy)]
struct Arc {
    to: usize,
    capacity: u64,
    /// The cell it stands for, and what using it costs (its value, for a cell not
    /// masked yet; 0 for a masked one).
    cell: usize,
    cost: u64,
}

/// The arcs through which the reader can move value: for each usable cell, one arc for
/// raising it (unbounded) and one for lowering it (down to its lower bound).
fn arcs(
    layout: &Layout,
    cells: &[Cell],
    usable: &[bool],
    costs: &[u64],
    skip: usize,
) -> Vec<Vec<Arc>> {
    let mut out = vec![Vec::new(); layout.nodes()];
    for (i, cell) in cells.iter().enumerate() {
        if i == skip || !usable[i] {
            continue;
        }
        let (row, column, plain) = layout.edge(cell.place);
        let room = cell.value.saturating_sub(cell.lower_bound());
        // Raising a plain cell runs row → column; raising a margin cell, column → row.
        let (up_from, up_to) = if plain { (row, column) } else { (column, row) };
        out[up_from].push(Arc {
            to: up_to,
            capacity: INFINITE,
            cell: i,
            cost: costs[i],
        });
        out[up_to].push(Arc {
            to: up_from,
            capacity: room,
            cell: i,
            cost: costs[i],
        });
    }
    out
}

/// Residual capacities: per node, (to, capacity left, index of the reverse arc).
type Residual = Vec<Vec<(usize, u64, usize)>>;

fn residual_of(graph: &[Vec<Arc>]) -> Residual {
    let mut residual: Residual = vec![Vec::new(); graph.len()];
    for (from, list) in graph.iter().enumerate() {
        for a in list {
            let forth = residual[from].len();
            let back = residual[a.to].len();
            residual[from].push((a.to, a.capacity, back));
            residual[a.to].push((from, 0, forth));
        }
    }
    residual
}

/// Pushes as much as can flow from `source` to `sink`, stopping at `enough`.
fn push_flow(residual: &mut Residual, source: usize, sink: usize, enough: u64) -> u64 {
    let nodes = residual.len();
    let mut flow = 0;
    while flow < enough {
        let mut previous: Vec<Option<(usize, usize)>> = vec![None; nodes];
        let mut seen = vec![false; nodes];
        seen[source] = true;
        let mut queue = VecDeque::from([source]);
        while let Some(node) = queue.pop_front() {
            if node == sink {
                break;
            }
            for (k, &(to, capacity, _)) in residual[node].iter().enumerate() {
                if capacity > 0 && !seen[to] {
                    seen[to] = true;
                    previous[to] = Some((node, k));
                    queue.push_back(to);
                }
            }
        }
        if !seen[sink] {
            break;
        }
        let mut bottleneck = enough - flow;
        let mut node = sink;
        while let Some((from, k)) = previous[node] {
            bottleneck = bottleneck.min(residual[from][k].1);
            node = from;
        }
        let mut node = sink;
        while let Some((from, k)) = previous[node] {
            let (to, _, back) = residual[from][k];
            residual[from][k].1 -= bottleneck;
            residual[to][back].1 = residual[to][back].1.saturating_add(bottleneck);
            node = from;
        }
        flow += bottleneck;
    }
    flow
}

/// Source and sink of the flow that raises cell `e`.
fn ends(layout: &Layout, cell: &Cell, way: Direction) -> (usize, usize) {
    let (row, column, plain) = layout.edge(cell.place);
    // Lowering a cell is raising it with the flow reversed.
    if plain == (way == Direction::Up) {
        (column, row)
    } else {
        (row, column)
    }
}

/// How much cell `e` can be raised (at most `enough`) through the masked cells, and
/// the residual network of that flow.
fn headroom(
    layout: &Layout,
    cells: &[Cell],
    masked: &[bool],
    e: usize,
    way: Direction,
    enough: u64,
) -> (u64, Residual) {
    let zero = vec![0; cells.len()];
    let graph = arcs(layout, cells, masked, &zero, e);
    let mut residual = residual_of(&graph);
    let (source, sink) = ends(layout, &cells[e], way);
    let flow = push_flow(&mut residual, source, sink, enough);
    (flow, residual)
}

/// The cells to mask so that cell `e` can rise further: the cheapest path (by the
/// values it would hide) through what the masked cells still allow and cells not yet
/// masked. Zeros are never used. None when no path exists.
fn cheapest_path(
    layout: &Layout,
    cells: &[Cell],
    masked: &[bool],
    e: usize,
    way: Direction,
    residual: &Residual,
) -> Option<Vec<usize>> {
    let fresh_usable: Vec<bool> = cells
        .iter()
        .zip(masked)
        .map(|(c, m)| !*m && c.value > 0)
        .collect();
    let costs: Vec<u64> = cells.iter().map(|c| c.value).collect();
    let fresh = arcs(layout, cells, &fresh_usable, &costs, e);
    let (source, sink) = ends(layout, &cells[e], way);
    let nodes = residual.len();
    let mut best = vec![u64::MAX; nodes];
    let mut previous: Vec<Option<(usize, Option<usize>)>> = vec![None; nodes];
    let mut heap = BinaryHeap::from([Reverse((0u64, source))]);
    best[source] = 0;
    while let Some(Reverse((cost, node))) = heap.pop() {
        if cost > best[node] {
            continue;
        }
        if node == sink {
            break;
        }
        let through_masked = residual[node]
            .iter()
            .filter(|(_, capacity, _)| *capacity > 0)
            .map(|&(to, _, _)| (to, 0, None));
        let through_new = fresh[node]
            .iter()
            .filter(|a| a.capacity > 0)
            .map(|a| (a.to, a.cost, Some(a.cell)));
        for (to, step, cell) in through_masked.chain(through_new) {
            let next = cost.saturating_add(step);
            if next < best[to] {
                best[to] = next;
                previous[to] = Some((node, cell));
                heap.push(Reverse((next, to)));
            }
        }
    }
    if best[sink] == u64::MAX {
        return None;
    }
    let mut path = Vec::new();
    let mut node = sink;
    while let Some((from, cell)) = previous[node] {
        path.extend(cell);
        node = from;
    }
    Some(path)
}

/// Masks the primary cells and adds complements until every cell that holds 1 to its
/// threshold − 1 can, as far as a reader of the published cells can tell, hold at
/// least its threshold.
pub fn suppress(rows: usize, columns: usize, cells: &[Cell]) -> Suppressed {
    let layout = Layout { rows, columns };
    let mut masks: Vec<Mask> = cells
        .iter()
        .map(|c| {
            if c.is_primary() {
                Mask::Primary
            } else {
                Mask::Shown
            }
        })
        .collect();
    // Cells to protect: those holding 1 to threshold − 1 must be able to reach their
    // threshold; those the rules hide whatever they hold, or that too few institutions
    // make, must at least not be exact; a guarded one must move its way by one.
    let mut order: Vec<(usize, u64, Direction)> = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if c.needs_protection() {
            order.push((i, c.threshold - c.value, Direction::Up));
        } else if c.always_hidden || c.too_few {
            order.push((i, 1, Direction::Up));
        }
        match c.guard {
            Some(Direction::Up) if !c.needs_protection() => order.push((i, 1, Direction::Up)),
            Some(Direction::Down) if c.value > c.lower_bound() => {
                order.push((i, 1, Direction::Down));
            }
            _ => {}
        }
    }
    order.sort_by_key(|(i, _, _)| (cells[*i].value, *i));
    let mut complements = 0;
    for (e, need, way) in order {
        loop {
            let masked: Vec<bool> = masks.iter().map(|m| *m != Mask::Shown).collect();
            let (flow, residual) = headroom(&layout, cells, &masked, e, way, need);
            if flow >= need {
                break;
            }
            // Each path found raises the flow by at least one: the loop ends.
            let Some(path) = cheapest_path(&layout, cells, &masked, e, way, &residual) else {
                break;
            };
            if path.is_empty() {
                break;
            }
            for c in path {
                masks[c] = Mask::Complement;
                complements += 1;
            }
        }
    }
    Suppressed { masks, complements }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn leaf(row: usize, column: usize, value: u64) -> Leaf {
        Leaf {
            row,
            column,
            value,
            threshold: 10,
            always_hidden: false,
            institutions: 5,
            masked_own: MaskedOwn::default(),
        }
    }

    /// The reader's attack, written apart from the suppressor: for each masked cell,
    /// the largest and smallest values a linear program allows under the published
    /// cells and the sums that link the tables, every masked cell at least its lower
    /// bound.
    fn attack(
        rows: usize,
        columns: usize,
        cells: &[Cell],
        masks: &[Mask],
    ) -> Vec<(usize, f64, f64)> {
        use microlp::{ComparisonOp, OptimizationDirection, Problem};
        let masked: Vec<usize> = (0..cells.len())
            .filter(|i| masks[*i] != Mask::Shown)
            .collect();
        // Each link: the cells on its left sum to the cell on its right.
        let mut links: Vec<(Vec<usize>, usize)> = Vec::new();
        let find = |p: Place| cells.iter().position(|c| c.place == p).unwrap();
        for r in 0..rows {
            let parts = (0..cells.len())
                .filter(|i| matches!(cells[*i].place, Place::Municipality { row, .. } if row == r))
                .collect();
            links.push((parts, find(Place::RowTotal(r))));
        }
        for k in 0..columns {
            let parts = (0..cells.len())
                .filter(|i| matches!(cells[*i].place, Place::Municipality { column, .. } if column == k))
                .collect();
            links.push((parts, find(Place::ColumnTotal(k))));
        }
        links.push((
            (0..rows).map(|r| find(Place::RowTotal(r))).collect(),
            find(Place::Total),
        ));
        links.push((
            (0..columns).map(|k| find(Place::ColumnTotal(k))).collect(),
            find(Place::Total),
        ));
        let mut out = Vec::new();
        for &target in &masked {
            let mut bounds = [0.0; 2];
            for (slot, direction) in [
                OptimizationDirection::Maximize,
                OptimizationDirection::Minimize,
            ]
            .into_iter()
            .enumerate()
            {
                let mut p = Problem::new(direction);
                let vars: Vec<_> = masked
                    .iter()
                    .map(|&i| {
                        let lb = if cells[i].always_hidden { 0.0 } else { 1.0 };
                        p.add_var(if i == target { 1.0 } else { 0.0 }, (lb, f64::INFINITY))
                    })
                    .collect();
                let var_of = |i: usize| masked.iter().position(|m| *m == i).map(|k| vars[k]);
                for (parts, total) in &links {
                    let mut terms = Vec::new();
                    let mut constant = 0.0;
                    for &i in parts {
                        match var_of(i) {
                            Some(v) => terms.push((v, 1.0)),
                            None => constant -= cells[i].value as f64,
                        }
                    }
                    match var_of(*total) {
                        Some(v) => terms.push((v, -1.0)),
                        None => constant += cells[*total].value as f64,
                    }
                    if !terms.is_empty() {
                        p.add_constraint(&terms[..], ComparisonOp::Eq, constant);
                    }
                }
                bounds[slot] = match p.solve() {
                    Ok(s) => s.objective(),
                    Err(microlp::Error::Unbounded) => f64::INFINITY,
                    Err(e) => panic!("attack failed: {e:?}"),
                };
            }
            out.push((target, bounds[0], bounds[1]));
        }
        out
    }

    fn assert_safe(rows: usize, columns: usize, cells: &[Cell], s: &Suppressed) {
        for (i, c) in cells.iter().enumerate() {
            if c.guard.is_some() {
                assert_ne!(
                    s.masks[i],
                    Mask::Shown,
                    "cell {i} {c:?} would give one away"
                );
            }
            if c.is_primary() {
                assert_ne!(
                    s.masks[i],
                    Mask::Shown,
                    "primary cell {i} {c:?} is published"
                );
            }
            if s.masks[i] == Mask::Complement {
                assert!(c.value > 0, "a zero used as a complement");
            }
        }
        for (i, max, min) in attack(rows, columns, cells, &s.masks) {
            let c = &cells[i];
            if c.needs_protection() {
                assert!(
                    max >= c.threshold as f64 - 1e-6,
                    "cell {i} {c:?} is provably below {}: at most {max}\n{cells:?}\n{:?}",
                    c.threshold,
                    s.masks
                );
            }
            assert!(
                max - min > 1e-6 || c.value == 0 && c.always_hidden,
                "cell {i} {c:?} is exact ({min}..{max})"
            );
            // No institution's masked value under it can be computed exactly.
            match c.guard {
                Some(Direction::Up) => assert!(
                    max >= c.value as f64 + 1.0 - 1e-6,
                    "cell {i} {c:?} cannot rise: at most {max}"
                ),
                Some(Direction::Down) if c.value > c.lower_bound() => assert!(
                    min <= c.value as f64 - 1.0 + 1e-6,
                    "cell {i} {c:?} cannot fall: at least {min}"
                ),
                _ => {}
            }
        }
    }

    #[test]
    fn a_municipality_threshold_follows_its_population() {
        let r = Rules::default();
        assert_eq!(r.for_municipality(Some(1_999)), (20, true));
        assert_eq!(r.for_municipality(Some(2_000)), (20, false));
        assert_eq!(r.for_municipality(Some(24_999)), (20, false));
        assert_eq!(r.for_municipality(Some(25_000)), (10, false));
        assert_eq!(
            r.for_municipality(None),
            (20, false),
            "unknown: the stricter"
        );
    }

    #[test]
    fn a_single_small_cell_gets_a_complement_in_its_row_and_column() {
        // 保健所 0 spans 二次医療圏 0 and 1; 保健所 1 lies in 二次医療圏 1.
        let leaves = [
            leaf(0, 0, 3),
            leaf(0, 1, 40),
            leaf(0, 0, 25),
            leaf(1, 1, 60),
        ];
        let cells = linked_cells(2, 2, &leaves, SumThresholds::all(10), 0, 9);
        let s = suppress(2, 2, &cells);
        assert_eq!(s.masks[0], Mask::Primary);
        assert!(s.complements >= 1);
        // The cheapest protection is the 25 beside it (same 保健所 and 二次医療圏).
        assert_eq!(s.masks[2], Mask::Complement);
        assert_eq!(s.masks[1], Mask::Shown);
        assert_safe(2, 2, &cells, &s);
    }

    #[test]
    fn two_small_cells_summing_to_the_threshold_are_not_enough() {
        // 1 + 9 = 10: hiding the two alone proves each is at most 9.
        let leaves = [leaf(0, 0, 1), leaf(0, 0, 9), leaf(0, 1, 30), leaf(1, 1, 50)];
        let cells = linked_cells(2, 2, &leaves, SumThresholds::all(10), 0, 9);
        let s = suppress(2, 2, &cells);
        assert!(s.complements >= 1, "{:?}", s.masks);
        assert_safe(2, 2, &cells, &s);
    }

    #[test]
    fn a_small_total_and_zeros_are_handled() {
        let leaves = [leaf(0, 0, 0), leaf(0, 0, 4), leaf(1, 0, 0), leaf(1, 0, 2)];
        let cells = linked_cells(2, 1, &leaves, SumThresholds::all(10), 0, 9);
        let s = suppress(2, 1, &cells);
        assert_eq!(s.masks[0], Mask::Shown, "a zero is shown");
        assert_eq!(s.masks[2], Mask::Shown);
        assert_safe(2, 1, &cells, &s);
    }

    #[test]
    fn a_cell_of_fewer_than_three_institutions_is_masked_and_not_exact() {
        let mut few = leaf(0, 0, 50);
        few.institutions = 2;
        let leaves = [few, leaf(0, 0, 30), leaf(0, 1, 40), leaf(1, 1, 70)];
        let off = linked_cells(2, 2, &leaves, SumThresholds::all(10), 0, 9);
        assert!(suppress(2, 2, &off).masks.iter().all(|m| *m == Mask::Shown));
        let cells = linked_cells(2, 2, &leaves, SumThresholds::all(10), 3, 9);
        let s = suppress(2, 2, &cells);
        assert_eq!(s.masks[0], Mask::Primary);
        assert!(s.complements >= 1);
        assert_safe(2, 2, &cells, &s);
        // A zero is shown whoever it comes from.
        let mut zero = leaf(0, 0, 0);
        zero.institutions = 1;
        let cells = linked_cells(1, 1, &[zero, leaf(0, 0, 30)], SumThresholds::all(10), 3, 9);
        assert_eq!(suppress(1, 1, &cells).masks[0], Mask::Shown);
    }

    #[test]
    fn one_institutions_masked_value_cannot_be_recovered_from_a_total() {
        // 一市 holds two institutions: 50 shown on its row, 4 masked (*). Its cell (54)
        // is large, but shown it would give the 4 away: 54 − 50.
        let mut town = leaf(0, 0, 54);
        town.masked_own = MaskedOwn { count: 1, sum: 4 };
        let leaves = [town, leaf(0, 1, 40), leaf(1, 0, 35), leaf(1, 1, 70)];
        let cells = linked_cells(2, 2, &leaves, SumThresholds::all(10), 0, 9);
        assert_eq!(cells[0].guard, Some(Direction::Up));
        let s = suppress(2, 2, &cells);
        assert_eq!(s.masks[0], Mask::Primary);
        // Every sum holding that one masked value would give it away as well.
        assert!(
            cells[4..]
                .iter()
                .zip(&s.masks[4..])
                .all(|(c, m)| { (c.guard.is_some() && *m != Mask::Shown) || c.guard.is_none() })
        );
        assert_eq!(cells.iter().filter(|c| c.guard.is_some()).count(), 4);
        assert_safe(2, 2, &cells, &s);
        // Two masked values of 9 under a cell: each would be exact at the top.
        assert_eq!(
            MaskedOwn { count: 2, sum: 18 }.guard(9),
            Some(Direction::Down)
        );
        assert_eq!(MaskedOwn { count: 2, sum: 2 }.guard(9), Some(Direction::Up));
        assert_eq!(MaskedOwn { count: 2, sum: 10 }.guard(9), None);
        assert_eq!(
            MaskedOwn { count: 1, sum: 9 }.guard(9),
            Some(Direction::Down)
        );
    }

    #[test]
    fn each_kind_of_sum_has_its_own_threshold() {
        let leaves = [leaf(0, 0, 20), leaf(0, 1, 15), leaf(1, 1, 12)];
        let strict_total = SumThresholds {
            area: 10,
            medical_area: 30,
            total: 100,
        };
        let cells = linked_cells(2, 2, &leaves, strict_total, 0, 9);
        let s = suppress(2, 2, &cells);
        // 保健所 totals 35 and 12 pass 10; 二次医療圏 totals 20 and 27 fall under 30;
        // the prefecture's 47 falls under 100.
        assert!(!cells[3].is_primary() && !cells[4].is_primary());
        assert_eq!(&s.masks[5..], [Mask::Primary, Mask::Primary, Mask::Primary]);
        assert_safe(2, 2, &cells, &s);
    }

    #[test]
    fn random_linked_tables_withstand_the_linear_programming_attack() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261203);
        for _ in 0..3000 {
            let rows = rng.random_range(1..5);
            let columns = rng.random_range(1..4);
            let n = rng.random_range(2..12);
            let leaves: Vec<Leaf> = (0..n)
                .map(|k| {
                    // Every row and column gets a municipality.
                    let row = if k < rows {
                        k
                    } else {
                        rng.random_range(0..rows)
                    };
                    let column = if k < columns {
                        k
                    } else {
                        rng.random_range(0..columns)
                    };
                    let roll = rng.random_range(0..10);
                    let mut value = match roll {
                        0..=2 => 0,
                        3..=6 => rng.random_range(1..10),
                        _ => rng.random_range(10..120),
                    };
                    // Institutions' own masked values (1–9, often at an end) under it:
                    // the cell is their sum plus what the others show.
                    let mut masked_own = MaskedOwn::default();
                    if value > 0 && rng.random_range(0..3) == 0 {
                        for _ in 0..rng.random_range(1..4) {
                            let own = match rng.random_range(0..4) {
                                0 => 1,
                                1 => 9,
                                _ => rng.random_range(1..10),
                            };
                            masked_own.count += 1;
                            masked_own.sum += own;
                        }
                        value = masked_own.sum
                            + if rng.random_range(0..2) == 0 {
                                0
                            } else {
                                rng.random_range(10..60)
                            };
                    }
                    Leaf {
                        row,
                        column,
                        value,
                        threshold: if rng.random_range(0..4) == 0 { 20 } else { 10 },
                        always_hidden: rng.random_range(0..15) == 0,
                        institutions: rng.random_range(0..6),
                        masked_own,
                    }
                })
                .collect();
            let min_institutions = if rng.random_range(0..2) == 0 { 3 } else { 0 };
            let cells = linked_cells(
                rows,
                columns,
                &leaves,
                SumThresholds::all(10),
                min_institutions,
                9,
            );
            let s = suppress(rows, columns, &cells);
            assert_safe(rows, columns, &cells, &s);
        }
    }
}
