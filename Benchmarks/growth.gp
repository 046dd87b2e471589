# gnuplot -e "clients='…'; history='…'; history_jobs=N; mid_jobs=K; empty_jobs=M; out='dir/'" growth.gp
# Draws the growth curves of Benchmarks/run.sh (measures 11 and 13) as PNGs in `out`.
set terminal pngcairo size 900,500 font ",10" noenhanced
set grid

set output out . "growth-clients.png"
set title "jobsd: jobs completed/s and start latency against concurrent clients (64 running slots)"
set logscale x 2
set xlabel "concurrent clients (each: POST, long-poll to terminal, next)"
set ylabel "jobs completed / s"
set y2label "start latency, ms (POST sent -> process main)"
set logscale y2 10
set y2tics
set ytics nomirror
set yrange [0:*]
set key left top
plot clients using 1:2 with linespoints lw 2 title "jobs/s", \
     clients using 1:3 axes x1y2 with linespoints dt 2 title "start p50 (ms)", \
     clients using 1:4 axes x1y2 with linespoints dt 3 title "start p99 (ms)"

reset
set terminal pngcairo size 900,500 font ",10" noenhanced
set grid
set output out . "growth-history.png"
set title sprintf("jobsd: requests/s with %d, %d and %d finished jobs in the store", empty_jobs, mid_jobs, history_jobs)
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "requests / s (wrk)"
set yrange [0:*]
set key right top
plot history using 2:xtic(1) title sprintf("%d jobs", empty_jobs), '' using 3 title sprintf("%d jobs", mid_jobs), \
     '' using 4 title sprintf("%d jobs", history_jobs)
