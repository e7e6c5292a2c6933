"""From bits to benchmark scores: statistics, scores, leaderboard, plots, the HTML report."""
