//! The video as a list of slides: what each shows and the sentence it says, in
//! English or Spanish, every number taken from the run's facts.

use super::browse::Step;
use super::facts::Facts;
use super::Lang;
use crate::attn::capture::{is_special, top_k};
use crate::attn::compare::MaskSummary;
use crate::attn::heads::{HeadStats, Role};
use crate::attn::record::ExampleRecord;
use crate::train::evaluate::watched_rows;
use crate::train::report::HEADS_OVER_TRAINING;
use anyhow::Result;
use std::path::PathBuf;

pub struct Slide {
    pub title: String,
    /// Burned in at the bottom and, with --voice, spoken.
    pub caption: String,
    /// What the voice says instead, where the caption only points at the card.
    pub spoken: Option<String>,
    pub visual: Visual,
}

pub enum Visual {
    /// Lines of text on a card; the first is the headline.
    Card(Vec<String>),
    /// A block of monospace text (a JSON file as it is).
    Code(String),
    /// A PNG of the run, shown whole, its white margins trimmed.
    Figure(PathBuf),
    /// figures/attn.html in this state, captured by the browser.
    Page(Step),
}

/// The dataset as a person writes it.
fn dataset_name(id: &str) -> String {
    match id {
        "imdb" => "IMDb".into(),
        "ag_news" => "AG News".into(),
        other => other.into(),
    }
}

/// A label as a word in a sentence: IMDb's short names spelt out.
fn label_word(label: &str, lang: Lang) -> String {
    match (label, lang) {
        ("neg", Lang::En) => "negative".into(),
        ("pos", Lang::En) => "positive".into(),
        ("neg", Lang::Es) => "negativo".into(),
        ("pos", Lang::Es) => "positivo".into(),
        (other, _) => other.into(),
    }
}

/// An option's value as the command line spells it ("encoder", "mean", "rms").
fn name(value: impl clap::ValueEnum) -> String {
    value
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}

/// `en` or `es` of one sentence.
fn tr(lang: Lang, en: String, es: String) -> String {
    match lang {
        Lang::En => en,
        Lang::Es => es,
    }
}

/// The slides in order: title, three examples, the heads' cards and the heads
/// forming (when measured), the two masks, curves, metrics, faithfulness (when
/// measured), lessons, close. `browse`: show the page, not PNGs.
pub fn slides(f: &Facts, lang: Lang, browse: bool) -> Result<Vec<Slide>> {
    let mut slides = vec![title(f, lang)];
    for (k, ex) in f.examples.iter().take(3).enumerate() {
        slides.extend(example(f, lang, k, ex, browse)?);
    }
    slides.extend(heads(f, lang)?);
    slides.extend(forming(f, lang)?);
    slides.extend(masks(f, lang)?);
    slides.push(curves(f, lang)?);
    slides.push(metrics(f, lang));
    if let Some(slide) = faithfulness(f, lang)? {
        slides.push(slide);
    }
    slides.push(lessons(f, lang));
    slides.push(closing(lang));
    Ok(slides)
}

fn title(f: &Facts, lang: Lang) -> Slide {
    let m = &f.summary.options.model;
    let dataset = dataset_name(&f.summary.dataset);
    let rows = |i: usize| f.summary.rows.get(i).copied().unwrap_or(0);
    let model = format!(
        "{} · {} · {} heads · d_model {} · {} pooling · {} · max {} tokens",
        name(m.arch),
        count(m.n_layers, "block", "blocks"),
        m.n_heads,
        m.d_model,
        name(m.pool),
        name(m.norm),
        m.max_len
    );
    let data = tr(
        lang,
        format!(
            "{dataset}: {} train / {} validation / {} test texts · {} vocabulary",
            rows(0),
            rows(1),
            rows(2),
            f.summary.options.tokenizer
        ),
        format!(
            "{dataset}: {} de entrenamiento / {} de validación / {} de prueba · vocabulario {}",
            rows(0),
            rows(1),
            rows(2),
            f.summary.options.tokenizer
        ),
    );
    Slide {
        title: "xray".into(),
        caption: tr(
            lang,
            format!(
                "This project is an X-ray of the Transformer: an attention block written by hand, \
                 trained to classify {dataset} texts, and opened up to see which words it reads."
            ),
            format!(
                "Este proyecto es una radiografía del Transformer: un bloque de atención escrito \
                 a mano, entrenado para clasificar textos de {dataset} y abierto para ver qué palabras lee."
            ),
        ),
        spoken: None,
        visual: Visual::Card(vec![
            tr(lang, "An X-ray of the Transformer".into(), "Una radiografía del Transformer".into()),
            tr(
                lang,
                "multi-head self-attention, masks, FFN and AdamW written by hand on candle".into(),
                "atención multi-cabeza, máscaras, FFN y AdamW escritos a mano sobre candle".into(),
            ),
            model,
            data,
        ]),
    }
}

/// The top `k` distinct words of `weights` (specials and repeats skipped).
fn top_words(ex: &ExampleRecord, weights: &[f32], k: usize) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for i in top_k(weights, &ex.tokens, ex.tokens.len()) {
        let word = format!("\"{}\"", ex.tokens[i]);
        if !words.contains(&word) && !is_special(&ex.tokens[i]) {
            words.push(word);
        }
        if words.len() == k {
            break;
        }
    }
    words
}

fn example(
    f: &Facts,
    lang: Lang,
    k: usize,
    ex: &ExampleRecord,
    browse: bool,
) -> Result<[Slide; 2]> {
    let n = ex.tokens.len() as f32;
    let truth = ex.truth.clone().unwrap_or_else(|| "?".into());
    let ig = top_words(ex, &ex.integrated, 3).join(", ");
    let (route, route_top) = (
        top_words(ex, &ex.pooled_attn, 1).join(""),
        max(&ex.pooled_attn) * n,
    );
    let heading = tr(
        lang,
        format!(
            "Example {} of 3 · true {truth} · predicted {} (p = {:.3})",
            k + 1,
            ex.predicted,
            ex.probability
        ),
        format!(
            "Ejemplo {} de 3 · real {truth} · predicho {} (p = {:.3})",
            k + 1,
            ex.predicted,
            ex.probability
        ),
    );
    let (said, is) = (label_word(&ex.predicted, lang), label_word(&truth, lang));
    let words = Slide {
        title: heading.clone(),
        caption: tr(
            lang,
            format!(
                "A {is} text, read as {said} with probability {:.2}. Integrated Gradients, in red, \
                 marks the words that push it there: {ig}.",
                ex.probability
            ),
            format!(
                "Un texto {is}, leído como {said} con probabilidad {:.2}. Integrated Gradients, en \
                 rojo, marca las palabras que lo empujan: {ig}.",
                ex.probability
            ),
        ),
        spoken: None,
        visual: if browse {
            Visual::Page(Step::words(k, "integrated"))
        } else {
            Visual::Figure(f.figure(&format!("attn_{}_text.png", ex.name))?)
        },
    };
    let layers = ex.window_maps.len();
    let map = Slide {
        title: heading,
        caption: tr(
            lang,
            format!(
                "Layer {layers}'s attention, the route to the classifier: its largest weight, on \
                 {route}, is {route_top:.2} times the uniform share."
            ),
            format!(
                "La atención de la capa {layers}, el camino hacia el clasificador: su mayor peso, \
                 en {route}, es {route_top:.2} veces el reparto uniforme."
            ),
        ),
        spoken: None,
        visual: if browse {
            Visual::Page(Step::words(k, "pooled").layer(layers - 1))
        } else {
            Visual::Figure(f.figure(&format!("attn_{}_layer{layers}.png", ex.name))?)
        },
    };
    Ok([words, map])
}

fn max(v: &[f32]) -> f32 {
    v.iter().cloned().fold(0.0, f32::max)
}

/// "layer 1, head 3" / "cabeza 3 de la capa 1".
fn head_name(h: &HeadStats, lang: Lang) -> String {
    tr(
        lang,
        format!("layer {}, head {}", h.layer, h.head),
        format!("cabeza {} de la capa {}", h.head, h.layer),
    )
}

/// `s` with its first letter upper-case, to open a sentence.
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// The three words a head's top keys most often are, quoted.
fn head_words(h: &HeadStats) -> String {
    let words: Vec<String> = h
        .top_keys
        .iter()
        .take(3)
        .map(|(w, _)| format!("\"{w}\""))
        .collect();
    words.join(", ")
}

/// What the reading head does, in one sentence.
fn reads(h: &HeadStats, lang: Lang) -> String {
    tr(
        lang,
        format!(
            "{} reads: its five most-weighted words receive {:.1} times the uniform share and are \
             the review's evidence by Integrated Gradients {:.0}% of the time ({}).",
            capitalized(&head_name(h, Lang::En)),
            h.top5_x_uniform,
            100.0 * h.precision_at_5,
            head_words(h)
        ),
        format!(
            "La {} lee: sus cinco palabras con más peso reciben {:.1} veces el reparto uniforme y \
             son la evidencia de la reseña según Integrated Gradients el {:.0}% de las veces ({}).",
            head_name(h, Lang::Es),
            h.top5_x_uniform,
            100.0 * h.precision_at_5,
            head_words(h)
        ),
    )
}

/// How many heads have each role, e.g. "4 reading, 0 structure, ...".
fn role_counts(heads: &[HeadStats], lang: Lang) -> String {
    let roles = [
        (Role::Reading, "reading", "de lectura"),
        (Role::Structure, "structure", "de estructura"),
        (Role::Positional, "positional", "posicionales"),
        (Role::Broad, "broad", "amplias"),
        (Role::Mixed, "mixed", "mixtas"),
    ];
    let parts: Vec<String> = roles
        .iter()
        .map(|(role, en, es)| {
            let n = heads.iter().filter(|h| h.role == *role).count();
            format!("{n} {}", tr(lang, en.to_string(), es.to_string()))
        })
        .collect();
    parts.join(", ")
}

/// Every head's card (figures/heads.png), when the X-ray measured the heads:
/// which one reads, and what the others do.
fn heads(f: &Facts, lang: Lang) -> Result<Option<Slide>> {
    let Some(faith) = f.faithfulness.as_ref().filter(|x| !x.heads.is_empty()) else {
        return Ok(None);
    };
    let first = match faith.reading_head() {
        Some(h) => reads(h, lang),
        None => tr(
            lang,
            "No head reads: none has its top words among the review's evidence often enough."
                .into(),
            "Ninguna cabeza lee: ninguna tiene sus palabras principales entre la evidencia con \
             suficiente frecuencia."
                .into(),
        ),
    };
    let n = faith.heads.len();
    let roles = tr(
        lang,
        format!(
            "Over {} validation reviews, the {n} heads: {}.",
            faith.examples,
            role_counts(&faith.heads, lang)
        ),
        format!(
            "En {} reseñas de validación, las {n} cabezas: {}.",
            faith.examples,
            role_counts(&faith.heads, lang)
        ),
    );
    Ok(Some(Slide {
        title: tr(
            lang,
            "Every head explained".into(),
            "Cada cabeza explicada".into(),
        ),
        caption: format!("{first} {roles}"),
        spoken: None,
        visual: Visual::Figure(f.figure("heads.png")?),
    }))
}

/// The reading head seen forming (figures/heads_over_training.png), from the
/// points the trainer measured on its head sample; None when it measured none.
fn forming(f: &Facts, lang: Lang) -> Result<Option<Slide>> {
    let Some(h) = f.faithfulness.as_ref().and_then(|x| x.reading_head()) else {
        return Ok(None);
    };
    let points: Vec<(usize, f64, f64)> = f
        .summary
        .history
        .iter()
        .flat_map(|r| &r.val_curve)
        .flat_map(|p| {
            p.heads
                .iter()
                .filter(|x| (x.layer, x.head) == (h.layer, h.head))
                .map(move |x| (p.step, x.top5_x_uniform, x.precision_at_5))
        })
        .collect();
    let (Some(a), Some(b)) = (points.first(), points.last()) else {
        return Ok(None);
    };
    let sample = f.summary.options.head_sample.min(f.summary.rows[1]);
    let caption = tr(
        lang,
        format!(
            "{} during training, on {sample} fixed validation reviews: at step {} its top \
             words received {:.1} times the uniform share, evidence {:.0}% of the time; at step {}, \
             {:.1} times and {:.0}%.",
            capitalized(&head_name(h, Lang::En)), a.0, a.1, 100.0 * a.2, b.0, b.1, 100.0 * b.2
        ),
        format!(
            "La {} durante el entrenamiento, en {sample} reseñas de validación fijas: en el paso {} \
             sus palabras principales recibían {:.1} veces el reparto uniforme, evidencia el {:.0}% \
             de las veces; en el paso {}, {:.1} veces y {:.0}%.",
            head_name(h, Lang::Es), a.0, a.1, 100.0 * a.2, b.0, b.1, 100.0 * b.2
        ),
    );
    Ok(Some(Slide {
        title: tr(
            lang,
            "The heads forming".into(),
            "Las cabezas formándose".into(),
        ),
        caption,
        spoken: None,
        visual: Visual::Figure(f.figure(HEADS_OVER_TRAINING)?),
    }))
}

fn masks(f: &Facts, lang: Lang) -> Result<Vec<Slide>> {
    let m = &f.masks;
    let padding = Slide {
        title: tr(lang, "The padding mask".into(), "La máscara de padding".into()),
        caption: tr(
            lang,
            format!(
                "Padded to {} tokens with the mask on, real tokens put {:.4} of their attention on \
                 [PAD] and the prediction stays {}. With the mask off they put {:.2} on it, and the \
                 prediction {}.",
                m.padded_to, m.pad_weight_on, m.padding_on, m.pad_weight_off,
                if m.padding_off == m.padding_on {
                    format!("is still {}: a probability moves by {:.1e} at most", m.padding_off, m.shift_off)
                } else {
                    format!("becomes {}", m.padding_off)
                }
            ),
            format!(
                "Rellenado hasta {} tokens con la máscara, los tokens reales ponen {:.4} de su \
                 atención en [PAD] y la predicción sigue en {}. Sin la máscara ponen {:.2}, y la \
                 predicción {}.",
                m.padded_to, m.pad_weight_on, m.padding_on, m.pad_weight_off,
                if m.padding_off == m.padding_on {
                    format!("sigue en {}: una probabilidad cambia {:.1e} como mucho", m.padding_off, m.shift_off)
                } else {
                    format!("pasa a {}", m.padding_off)
                }
            ),
        ),
        spoken: None,
        visual: Visual::Figure(f.figure("attn_compare_padding.png")?),
    };
    let causal = Slide {
        title: tr(lang, "The causal mask".into(), "La máscara causal".into()),
        caption: format!(
            "{} {}",
            tr(
                lang,
                "With the causal mask each token sees only the tokens before it: the upper \
                 triangle is empty."
                    .into(),
                "Con la máscara causal cada token solo ve los anteriores: el triángulo superior \
                 queda vacío."
                    .into(),
            ),
            causal_change(m, lang)
        ),
        spoken: None,
        visual: Visual::Figure(f.figure("attn_compare_causal.png")?),
    };
    let mut slides = vec![padding, causal];
    // The lesson itself comes from models trained each way (`xray pretrain
    // --causal-ablation`), where that figure exists beside the run's.
    if let Ok(path) = f.figure("causal_lm_ablation.png") {
        slides.push(causal_lesson(path, lang));
    }
    Ok(slides)
}

fn causal_lesson(path: PathBuf, lang: Lang) -> Slide {
    Slide {
        title: tr(
            lang,
            "Why the causal mask matters".into(),
            "Por qué importa la máscara causal".into(),
        ),
        caption: tr(
            lang,
            "Two next-token models trained on the same text, one with the causal mask and one \
             without it, both measured with it on held-out text: the blue one, trained with the \
             mask, has the lower loss and the higher accuracy. Without the mask a model learns \
             from tokens it will not see when it predicts."
                .into(),
            "Dos modelos de siguiente token entrenados con el mismo texto, uno con la máscara \
             causal y otro sin ella, medidos ambos con ella en texto reservado: el azul, \
             entrenado con la máscara, tiene menor pérdida y mayor exactitud. Sin la máscara un \
             modelo aprende de tokens que no verá cuando prediga."
                .into(),
        ),
        spoken: None,
        visual: Visual::Figure(path),
    }
}

/// What the other setting of the causal mask did to the prediction, as measured:
/// a move, or none (a confident review can keep its label and probability). An
/// encoder's comparison switches the mask on, which shows only the mechanics.
fn causal_change(m: &MaskSummary, lang: Lang) -> String {
    let (from, to) = match m.trained_causal {
        true => (&m.causal_on, &m.causal_off),
        false => (&m.causal_off, &m.causal_on),
    };
    let what = match (m.trained_causal, lang) {
        (true, Lang::En) => "This decoder was trained with it; removing it",
        (true, Lang::Es) => "Este decoder se entrenó con ella; al quitarla",
        (false, Lang::En) => {
            "This encoder was trained without it, so this shows only the mechanics; switching it on"
        }
        (false, Lang::Es) => {
            "Este encoder se entrenó sin ella, así que esto solo muestra el mecanismo; al activarla"
        }
    };
    match (from == to, lang) {
        (false, Lang::En) => format!("{what} moves the prediction from {from} to {to}."),
        (false, Lang::Es) => format!("{what} la predicción pasa de {from} a {to}."),
        (true, Lang::En) => format!("{what} leaves the prediction at {to}."),
        (true, Lang::Es) => format!("{what} la predicción se queda en {to}."),
    }
}

fn curves(f: &Facts, lang: Lang) -> Result<Slide> {
    let s = &f.summary;
    let step = s
        .best_step
        .map(|n| format!(", step {n}"))
        .unwrap_or_default();
    let paso = s
        .best_step
        .map(|n| format!(", paso {n}"))
        .unwrap_or_default();
    let all = s.rows[1];
    let watched = watched_rows(all, s.options.val_points).len();
    Ok(Slide {
        title: tr(
            lang,
            "Training curves".into(),
            "Curvas de entrenamiento".into(),
        ),
        caption: tr(
            lang,
            format!(
                "{} in {:.1} minutes at {:.0} tokens per second on the CPU. Validation loss on \
                 {watched} of {all} reviews was lowest at epoch {}{step}; those weights are kept, \
                 and on the whole validation split their loss is {:.4}.",
                count(s.epochs_run, "epoch", "epochs"),
                s.train_seconds / 60.0,
                s.train_tokens_per_s,
                s.best_epoch,
                f.final_metrics.val_loss
            ),
            format!(
                "{} en {:.1} minutos a {:.0} tokens por segundo en la CPU. La pérdida de \
                 validación en {watched} de {all} reseñas fue mínima en la época {}{paso}; se \
                 guardan esos pesos, y en toda la validación su pérdida es {:.4}.",
                count(s.epochs_run, "época", "épocas"),
                s.train_seconds / 60.0,
                s.train_tokens_per_s,
                s.best_epoch,
                f.final_metrics.val_loss
            ),
        ),
        spoken: None,
        visual: Visual::Figure(f.figure("curves.png")?),
    })
}

/// "1 epoch", "3 epochs".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn metrics(f: &Facts, lang: Lang) -> Slide {
    let s = &f.summary;
    let test = s.rows.get(2).copied().unwrap_or(0);
    Slide {
        title: "metrics/final_metrics.json".into(),
        caption: tr(
            lang,
            format!(
                "On the {test} test texts, never seen in training: accuracy {:.4} and macro F1 {:.4}.",
                s.test_accuracy, s.test_f1
            ),
            format!(
                "En los {test} textos de prueba, nunca vistos al entrenar: exactitud {:.4} y F1 macro {:.4}.",
                s.test_accuracy, s.test_f1
            ),
        ),
        spoken: None,
        visual: Visual::Code(f.final_metrics_text.trim().to_string()),
    }
}

/// The drop in probability when each method's top 10% of tokens is deleted.
fn drop_at_10(f: &Facts, method: &str) -> Option<f64> {
    let faith = f.faithfulness.as_ref()?;
    let i = faith
        .fractions
        .iter()
        .position(|&x| (x - 0.1).abs() < 1e-9)?;
    faith.method(method).map(|c| c.comprehensiveness[i])
}

fn faithfulness(f: &Facts, lang: Lang) -> Result<Option<Slide>> {
    let Some(faith) = &f.faithfulness else {
        return Ok(None);
    };
    let Some(best) = faith.most_faithful() else {
        return Ok(None);
    };
    let (Some(top), Some(attn), Some(random)) = (
        drop_at_10(f, &best.method),
        drop_at_10(f, "attention"),
        drop_at_10(f, "random"),
    ) else {
        return Ok(None);
    };
    let method = best.method.replace('_', " ");
    Ok(Some(Slide {
        title: tr(lang, "Which explanation is faithful?".into(), "¿Qué explicación es fiel?".into()),
        caption: tr(
            lang,
            format!(
                "On {} validation reviews, deleting the 10% of tokens {method} ranks highest lowers \
                 the probability by {top:.3}; the top attention tokens, by {attn:.3}; random tokens, by {random:.3}.",
                faith.examples
            ),
            format!(
                "En {} reseñas de validación, borrar el 10% de tokens mejor puntuados por {method} baja \
                 la probabilidad {top:.3}; los de más atención, {attn:.3}; tokens al azar, {random:.3}.",
                faith.examples
            ),
        ),
        spoken: None,
        visual: Visual::Figure(f.figure("faithfulness.png")?),
    }))
}

fn lessons(f: &Facts, lang: Lang) -> Slide {
    let m = &f.masks;
    let mut lines = vec![
        tr(lang, "Lessons".into(), "Lecciones".into()),
        tr(
            lang,
            format!("1. Without the padding mask, {:.0}% of a real token's attention lands on [PAD]; with it, {:.4}.", 100.0 * m.pad_weight_off, m.pad_weight_on),
            format!("1. Sin la máscara de padding, el {:.0}% de la atención de un token real cae en [PAD]; con ella, {:.4}.", 100.0 * m.pad_weight_off, m.pad_weight_on),
        ),
        match f.figure("causal_lm_ablation.png") {
            Ok(_) => tr(
                lang,
                "2. The causal mask is a training matter: a next-token model trained without it does worse on held-out text.".into(),
                "2. La máscara causal importa al entrenar: un modelo de siguiente token entrenado sin ella rinde peor en texto reservado.".into(),
            ),
            Err(_) => tr(
                lang,
                "2. The causal mask empties the upper triangle: each token sees only the tokens before it.".into(),
                "2. La máscara causal vacía el triángulo superior: cada token solo ve los anteriores.".into(),
            ),
        },
    ];
    if let Some(line) = attention_lesson(f, lang) {
        lines.push(format!("{}. {line}", lines.len()));
    }
    if let Some(h) = f.faithfulness.as_ref().and_then(|x| x.reading_head()) {
        lines.push(format!("{}. {}", lines.len(), reads(h, lang)));
    }
    Slide {
        title: tr(lang, "What we learned".into(), "Lo que aprendimos".into()),
        caption: tr(
            lang,
            "Lessons learned, each from a number this run measured.".into(),
            "Lecciones aprendidas, cada una de un número medido en este run.".into(),
        ),
        spoken: Some(lines[1..].join(" ")),
        visual: Visual::Card(lines),
    }
}

/// What deleting the attention route's top tokens says, as measured: a route
/// that deletes at least 3x random is faithful here; one that does not is not
/// an explanation.
fn attention_lesson(f: &Facts, lang: Lang) -> Option<String> {
    let (attn, random) = (drop_at_10(f, "attention")?, drop_at_10(f, "random")?);
    let ig = drop_at_10(f, "integrated_gradients").unwrap_or(f64::NAN);
    Some(if attn >= 3.0 * random {
        tr(
            lang,
            format!("Here the attention route is faithful: deleting its top 10% moves the prediction by {attn:.3}, {:.1} times random ({random:.3}); Integrated Gradients' top 10%, by {ig:.3}.", attn / random),
            format!("Aquí el camino de la atención es fiel: borrar su 10% principal mueve la predicción {attn:.3}, {:.1} veces el azar ({random:.3}); el 10% de Integrated Gradients, {ig:.3}.", attn / random),
        )
    } else {
        tr(
            lang,
            format!("Attention is not explanation: its top 10% moves the prediction by {attn:.3}, random tokens by {random:.3}."),
            format!("La atención no es explicación: su 10% principal mueve la predicción {attn:.3}, tokens al azar {random:.3}."),
        )
    })
}

fn closing(lang: Lang) -> Slide {
    Slide {
        title: "xray".into(),
        caption: tr(
            lang,
            "Every number in this video was read from the run's own files. Train, X-ray and film your own with the three commands on screen.".into(),
            "Cada número de este vídeo sale de los archivos del propio run. Entrena, radiografía y graba el tuyo con los tres comandos en pantalla.".into(),
        ),
        spoken: None,
        visual: Visual::Card(vec![
            tr(lang, "Try it".into(), "Pruébalo".into()),
            "cargo run --release -- train --dataset imdb".into(),
            "cargo run --release -- attn --compare-causal --html".into(),
            "cargo run --release -- video --voice".into(),
        ]),
    }
}
