//! "Did you mean" suggestions by edit distance.

/// The candidate closest to `input`, if it is close enough to be a plausible typo.
pub fn closest<'a>(input: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lowered = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    // Ranked by case-insensitive distance first, then by exact distance, so `Enforse` prefers `Enforce`
    // over `enforce`.
    let mut best: Option<((usize, usize), &'a str)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let folded =
            if candidate.to_lowercase() == lowered { 0 } else { edit_distance(&lowered, &candidate.to_lowercase()) };
        let rank = (folded, edit_distance(input, candidate));
        if folded <= limit && best.is_none_or(|(best_rank, _)| rank < best_rank) {
            best = Some((rank, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
pub fn edit_distance(left: &str, right: &str) -> usize {
    let left: Vec<char> = left.chars().collect();
    let right: Vec<char> = right.chars().collect();
    let width = right.len() + 1;
    let mut table = vec![0usize; (left.len() + 1) * width];
    for (index, cell) in table.iter_mut().enumerate().take(width) {
        *cell = index;
    }
    for row in 0..=left.len() {
        table[row * width] = row;
    }
    for row in 1..=left.len() {
        for column in 1..=right.len() {
            let cost = usize::from(left[row - 1] != right[column - 1]);
            let mut best = (table[(row - 1) * width + column] + 1)
                .min(table[row * width + column - 1] + 1)
                .min(table[(row - 1) * width + column - 1] + cost);
            if row > 1 && column > 1 && left[row - 1] == right[column - 2] && left[row - 2] == right[column - 1] {
                best = best.min(table[(row - 2) * width + column - 2] + 1);
            }
            table[row * width + column] = best;
        }
    }
    table[left.len() * width + right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(closest("Enforse", ["Audit", "Enforce"].into_iter()), Some("Enforce"));
        assert_eq!(closest("valdate", ["validate", "mutate"].into_iter()), Some("validate"));
        assert_eq!(closest("xyz", ["validate", "mutate"].into_iter()), None);
        assert_eq!(closest("enforce", ["Audit", "Enforce"].into_iter()), Some("Enforce"));
        assert_eq!(closest("Enforse", ["audit", "enforce", "Audit", "Enforce"].into_iter()), Some("Enforce"));
    }
}
