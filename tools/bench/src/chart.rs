//! The chart: CPU hotplug and cross-call latency against the CPU count on virt, the
//! kernel's and Linux's, on a log scale (they are three orders of magnitude apart).

use std::path::Path;

use plotters::prelude::*;

use crate::results::{Run, System};

const SERIES: [(System, &str, &str, RGBColor); 6] = [
    (
        System::Hotslab,
        "hotplug.offline_us",
        "hotslab CPU offline",
        BLUE,
    ),
    (
        System::Hotslab,
        "hotplug.online_us",
        "hotslab CPU online",
        CYAN,
    ),
    (
        System::Hotslab,
        "ipi.roundtrip_us",
        "hotslab SGI round trip",
        GREEN,
    ),
    (
        System::Hotslab,
        "ipi.on_each_cpu_us",
        "hotslab cross-call to all",
        BLACK,
    ),
    (
        System::Linux,
        "hotplug.offline_us",
        "Linux CPU offline",
        RED,
    ),
    (
        System::Linux,
        "hotplug.online_us",
        "Linux CPU online",
        MAGENTA,
    ),
];

pub fn draw(runs: &[Run], path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Latency against CPU count, QEMU virt (median, log scale)",
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1u32..9u32, (1f64..200_000f64).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("CPUs")
        .y_desc("microseconds")
        .draw()
        .map_err(|e| e.to_string())?;
    for (system, key, label, color) in SERIES {
        let mut points: Vec<(u32, f64)> = runs
            .iter()
            .filter(|r| r.system == system && r.machine == "virt")
            .filter_map(|r| Some((r.cpus, r.get(key)?)))
            .collect();
        points.sort_by_key(|p| p.0);
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::MiddleRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}
