//! Sentiment of one customer message in [-1, 1]: the VADER lexicon model of the
//! `vader-sentimental` crate, corrected and extended for support language.
//!
//! The crate scores general English well but misreads support chats: its old "no" rule turns
//! "no problem" negative, negation leaks across sentences ("Never again. Worst service
//! ever!!!" comes out positive), "please help" reads as praise, and it knows nothing of "still
//! not working", "third time", "waste of time", shouting, a burst of "???" or angry emoji.
//! This module scores each sentence with the crate (after fixing the "no" rule), reads
//! support phrases, emoji, shouting, "!!"/"??", stray negations and plain questions into a
//! dozen interpretable features on VADER's valence scale, and combines them with a small
//! learned layer ([`SentimentCalibration`]: one weight per feature, fitted on rated sentences
//! and shipped as constants) before VADER's normalisation, so scores stay comparable with
//! plain VADER. The weighted sum is scaled by an intensity factor read off the message's
//! words (`sentiment/intensity.rs`, learned from rated general English and generated into
//! `sentiment/intensity_words.tsv`), so matter-of-fact wording leans neutral. No files are
//! read at run time: a message costs a few microseconds.

use vader_sentimental::SentimentIntensityAnalyzer;

use super::SignalError;
use super::issue_type::{IssueClassifier, LabelledText, Taxonomy};
use super::text::{PhraseMatch, PhraseSet, fold, words};

mod intensity;
use intensity::Intensity;

/// VADER's normalisation constant: `compound = x / sqrt(x² + ALPHA)`.
const ALPHA: f64 = 15.0;

/// What a support phrase says about the customer's state, beyond its valence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CueKind {
    /// Something is broken or not happening ("still not working", "on hold for an hour").
    Complaint,
    /// The customer says this happened or was asked before ("third time", "as I said").
    Repetition,
    /// The last answer did not help ("that didn't help", "not what I asked").
    NotHelped,
    /// Swearing.
    Profanity,
    /// The problem is solved or the answer helped ("thanks, that worked").
    Progress,
    /// Politeness and requests for help that VADER reads as praise ("please help").
    Request,
    /// Praise VADER does not know ("stellar", "huge props", "above and beyond").
    Praise,
}

/// A support phrase and its valence on VADER's -4..4 scale.
struct Cue {
    pattern: &'static str,
    valence: f64,
    kind: CueKind,
}

const fn cue(pattern: &'static str, valence: f64, kind: CueKind) -> Cue {
    Cue {
        pattern,
        valence,
        kind,
    }
}

const NEG_AUX: &str = "not|n't|isn't|isnt|doesn't|doesnt|don't|dont|didn't|didnt|can't|cant|cannot|won't|wont|haven't|havent|hasn't|hasnt|aren't|arent|wasn't|wasnt|couldn't|couldnt";

/// Support-language phrases. `{NEG}` stands for the negated auxiliaries above.
const CUES: &[Cue] = &[
    // Still broken, not working.
    cue("still {NEG}", -2.0, CueKind::Complaint),
    cue(
        "still broken|waiting|down|failing|stuck|missing|nothing|unable|getting|having|happening|crashing|the",
        -1.4,
        CueKind::Complaint,
    ),
    cue("still no", -0.4, CueKind::Complaint),
    cue(
        "not working|loading|responding|syncing|fixed|resolved|solved|received|sent|showing|available|acceptable",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "{NEG} work|works|load|loads|open|opens|connect|sync|login|log|sign|access|save|export|import|send|receive|print|update|upload|download|respond|show|get|find|pay|reach",
        -1.2,
        CueKind::Complaint,
    ),
    cue("{NEG} be reached|contacted", -1.2, CueKind::Complaint),
    cue("unable to", -1.0, CueKind::Complaint),
    cue(
        "{NEG} working|loading|responding|syncing|opening|connecting",
        -1.4,
        CueKind::Complaint,
    ),
    cue(
        "site|website|app|server|servers|system|service|page|portal|api|login|platform down|broken|crashed|unavailable",
        -1.2,
        CueKind::Complaint,
    ),
    cue("crashed|crashes|crashing|crashed", -1.2, CueKind::Complaint),
    cue(
        "never arrives|arrived|arrive|came|comes|showed|shows|works|worked|loads|loaded",
        -1.5,
        CueKind::Complaint,
    ),
    cue("hold time|times", -1.0, CueKind::Complaint),
    cue(
        "# hours|hrs|hour|hr|days|weeks|months|mins|minutes on|of|in|waiting|later",
        -1.0,
        CueKind::Complaint,
    ),
    cue(
        "less than helpful|ideal|impressed|satisfied|stellar|great|pleased|friendly|professional|courteous",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "you|u|they can|could|should|must do better",
        -1.6,
        CueKind::Complaint,
    ),
    cue("you|u|they need to do better", -1.6, CueKind::Complaint),
    cue(
        "not|never|won't|wont be using|buying|ordering|coming|recommending|renewing|flying",
        -1.4,
        CueKind::Complaint,
    ),
    cue(
        "will not be using|buying|ordering|coming|recommending|renewing|flying",
        -1.4,
        CueKind::Complaint,
    ),
    cue("never * again", -1.6, CueKind::Complaint),
    cue("never * * again", -1.6, CueKind::Complaint),
    cue(
        "delayed|cancelled|canceled|late|down|broken|failed|crashed|stuck again",
        -1.2,
        CueKind::Repetition,
    ),
    cue(
        "waste|wasted|wasting more|much|all time",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "waste|wasted|wasting so much time",
        -2.0,
        CueKind::Complaint,
    ),
    cue("no way to", -1.0, CueKind::Complaint),
    cue("what's|whats the point", -1.2, CueKind::Complaint),
    cue("come on", -1.0, CueKind::Complaint),
    cue(
        "stopped working|responding|loading|syncing",
        -1.4,
        CueKind::Complaint,
    ),
    cue(
        "bug|bugs|buggy|glitch|glitches|glitchy|laggy|outage|froze|frozen|freezes|unusable|unresponsive|unhelpful",
        -1.2,
        CueKind::Complaint,
    ),
    cue("is|was|are|went|goes down", -1.2, CueKind::Complaint),
    cue("keeps going down", -1.5, CueKind::Complaint),
    cue(
        "keeps|keep|kept crashing|failing|freezing|happening|breaking|logging|timing",
        -1.5,
        CueKind::Complaint,
    ),
    cue("on hold", -1.2, CueKind::Complaint),
    cue(
        "waiting|waited|wait for|over|almost|nearly|than * hours|hrs|days|weeks|months|ages|forever|minutes|mins",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "for|over * hours|hrs|days|weeks|months",
        -0.8,
        CueKind::Complaint,
    ),
    cue(
        "no response|reply|replies|answer|answers|update|updates|callback|solution|help|refund|resolution|communication|info|information|explanation",
        -1.4,
        CueKind::Complaint,
    ),
    cue("no one", -0.8, CueKind::Complaint),
    cue("nobody", -0.8, CueKind::Complaint),
    cue(
        "waiting|waited for hours|days|weeks|ages|forever|months",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "never received|got|heard|arrived|came|answered|responded|replied|showed|called|fixed",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "haven't|havent|hasn't|hasnt|didn't|didnt received|receive|heard|gotten|got|arrived|come|responded|replied|answered",
        -1.0,
        CueKind::Complaint,
    ),
    cue(
        "waste|wasted|wasting of|my|our time|money|day",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "waste|wasted|wasting of my|our time|money|day",
        -2.0,
        CueKind::Complaint,
    ),
    cue("unacceptable", -1.0, CueKind::Complaint),
    // Things that went wrong, stated without a sentiment word.
    cue("stranded", -1.5, CueKind::Complaint),
    cue("hung|hangs|hanging up on", -1.5, CueKind::Complaint),
    cue("hung|hangs up", -1.2, CueKind::Complaint),
    cue(
        "can't|cant|cannot|couldn't|couldnt get through|anyone|anybody",
        -1.2,
        CueKind::Complaint,
    ),
    cue("nobody is|was|will|can|ever", -1.0, CueKind::Complaint),
    cue("no one is|was|will|can|ever", -1.0, CueKind::Complaint),
    cue("supposed to|have|be", -0.8, CueKind::Complaint),
    cue("should've|shouldve been|have", -0.8, CueKind::Complaint),
    cue("should have been", -0.8, CueKind::Complaint),
    cue(
        "only to find|be|get|have|hear|learn",
        -1.0,
        CueKind::Complaint,
    ),
    cue("where is|are my|our", -0.8, CueKind::Complaint),
    cue("where's|wheres my|our", -0.8, CueKind::Complaint),
    cue("fix your|this|it", -0.8, CueKind::Complaint),
    cue("how hard is|can it", -1.5, CueKind::Complaint),
    cue("thanks|thank|thx for nothing", -3.5, CueKind::Complaint),
    cue("thank you for nothing", -3.5, CueKind::Complaint),
    cue(
        "no info|information|explanation|notice|apology|email|call|communication",
        -1.0,
        CueKind::Complaint,
    ),
    cue(
        "refund|refunds|compensation|compensate|compensated|reimbursement|reimburse|reimbursed",
        -0.6,
        CueKind::Complaint,
    ),
    cue("want|need|demand my money back", -1.5, CueKind::Complaint),
    // Asking to be made whole.
    cue("make it|this|things right", -1.2, CueKind::Complaint),
    cue("make up for", -1.0, CueKind::Complaint),
    cue("you owe me|us", -1.5, CueKind::Complaint),
    cue("doesn't|doesnt make sense", -1.0, CueKind::Complaint),
    cue("nothing works", -1.6, CueKind::Complaint),
    cue(
        "ridiculous|absurd|insane|pathetic|shameful|disgraceful|terrible|horrible|awful",
        -0.3,
        CueKind::Complaint,
    ),
    cue("impossible|hassle|nightmare", -1.6, CueKind::Complaint),
    cue("unbelievable", -1.6, CueKind::Complaint),
    cue(
        "dissapointed|disapointed|dissappointed|dissapointing|disapointing",
        -2.0,
        CueKind::Complaint,
    ),
    cue("rip off", -2.0, CueKind::Complaint),
    cue("ripoff|rip-off|ripped", -2.0, CueKind::Complaint),
    cue(
        "unwilling|refuse|refuses|refused to",
        -1.2,
        CueKind::Complaint,
    ),
    cue("not worth", -1.0, CueKind::Complaint),
    cue(
        "too long|often|many|much|slow|late|expensive|complicated|difficult|hard",
        -1.0,
        CueKind::Complaint,
    ),
    cue(
        "be nice|great|good|helpful|awesome|better if",
        -3.0,
        CueKind::Complaint,
    ),
    cue(
        "should|need|needs|must get|have|be|hire|find|use|make|train better",
        -3.0,
        CueKind::Complaint,
    ),
    cue(
        "should|need|needs|must have|be|get|hire|find|use|make a better",
        -3.0,
        CueKind::Complaint,
    ),
    cue("need|needs a better", -3.0, CueKind::Complaint),
    cue("dobetter", -1.6, CueKind::Complaint),
    cue(
        "been trying|waiting|calling|holding since|for",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "have|has not had|received|gotten|heard",
        -1.0,
        CueKind::Complaint,
    ),
    cue("still", -0.6, CueKind::Complaint),
    // What a customer tells when recounting trouble.
    cue("was|were|been|got|being told", -1.0, CueKind::Complaint),
    cue("had to", -0.8, CueKind::Complaint),
    cue("tried|trying", -0.6, CueKind::Complaint),
    cue("why", -0.5, CueKind::Complaint),
    cue(
        "# hours|hrs|hour|hr|minutes|mins|min|days|weeks",
        -0.8,
        CueKind::Complaint,
    ),
    cue(
        "sitting|sat on|in|at|here|there|around",
        -0.8,
        CueKind::Complaint,
    ),
    cue("issue|issues", -0.6, CueKind::Complaint),
    cue("customer service|support|care", -0.5, CueKind::Complaint),
    cue(
        "speak|talk|speaking|talking to a|an|someone|somebody|anyone|anybody|person|human|agent|supervisor|manager|representative",
        -0.8,
        CueKind::Complaint,
    ),
    cue("an hour", -0.8, CueKind::Complaint),
    cue("hours", -0.5, CueKind::Complaint),
    cue("yet", -0.4, CueKind::Complaint),
    cue("again", -0.6, CueKind::Repetition),
    cue(
        "a|what|such|total|complete|absolute|biggest joke",
        -2.7,
        CueKind::Complaint,
    ),
    cue("kidding me", -2.0, CueKind::Complaint),
    cue("are you serious", -1.5, CueKind::Complaint),
    cue("fed up", -2.2, CueKind::Complaint),
    cue("had enough", -1.8, CueKind::Complaint),
    cue("sick|tired of", -1.2, CueKind::Complaint),
    cue("never again", -2.2, CueKind::Complaint),
    cue("give|giving|gave|given up", -1.2, CueKind::Complaint),
    cue(
        "charged|billed twice|double|again",
        -1.5,
        CueKind::Complaint,
    ),
    cue("double charged|billed", -1.5, CueKind::Complaint),
    cue("overcharged|overbilled", -1.5, CueKind::Complaint),
    cue(
        "lost|losing|missing|delayed|cancelled|canceled|stuck",
        -0.4,
        CueKind::Complaint,
    ),
    cue("delays|late|canceled|slow|slower", -0.8, CueKind::Complaint),
    cue("asap|urgently|immediately", -0.5, CueKind::Complaint),
    cue(
        "why is|isn't|isnt|does|doesn't|doesnt|can't|cant|won't|wont|did|didn't|didnt|would|has|hasn't|hasnt|are|aren't|was|do|don't|dont|am",
        -0.6,
        CueKind::Complaint,
    ),
    cue("what's going on", -0.8, CueKind::Complaint),
    cue("what is going on", -0.8, CueKind::Complaint),
    cue(
        "cancel my account|subscription|plan|contract|membership",
        -0.6,
        CueKind::Complaint,
    ),
    // Complaints told as plain facts: what was cancelled, lost or missed, who never
    // called back, how long it took.
    cue(
        "flight|flights|order|orders|ticket|booking|reservation|delivery|package|parcel|shipment|appointment|train|bag|bags|luggage|suitcase|refund|payment was|is|got|were|are cancelled|canceled|delayed|lost|missing|damaged|rejected|declined",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "flight|flights|order|orders|ticket|booking|reservation|delivery|package|parcel|shipment|appointment|train|bag|bags|luggage|suitcase|refund|payment has|have been cancelled|canceled|delayed|lost|missing|damaged|rejected|declined",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "cancelled|canceled|delayed|lost|lose|losing|damaged|broke|misplaced my|our flight|flights|order|ticket|booking|reservation|delivery|package|parcel|appointment|bag|bags|luggage|suitcase|stuff|belongings",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "missed|miss|missing my|our|the connection|connecting|flight|meeting|appointment|delivery|train|event",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "no one called|calls|answered|answers|responded|responds|replied|replies|came|showed|helped|helps|cares|knows",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "nobody|noone called|calls|answered|answers|responded|responds|replied|replies|came|showed|helped|helps|cares|knows",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "never|{NEG} called|call|calls|got|get|gets back",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "took|takes|taking|waited|waiting|wait forever|ages",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "# minute|minutes|min|mins|hour|hours|hr|hrs|day|days wait|delay|line|queue",
        -1.2,
        CueKind::Complaint,
    ),
    cue(
        "long wait|line|lines|queue|delay|delays",
        -1.2,
        CueKind::Complaint,
    ),
    cue("lack of", -1.2, CueKind::Complaint),
    cue(
        "for the|my|our inconvenience|trouble|hassle",
        -1.0,
        CueKind::Complaint,
    ),
    cue("not even a|an|one", -1.0, CueKind::Complaint),
    cue("{NEG} let me|us", -1.2, CueKind::Complaint),
    cue("now what", -1.2, CueKind::Complaint),
    cue("what happened to", -0.8, CueKind::Complaint),
    cue(
        "# hours|hrs|hour|hr|minutes|mins|min on hold",
        -2.0,
        CueKind::Complaint,
    ),
    cue("onhold", -1.2, CueKind::Complaint),
    cue(
        "waiting|waited an|a|one hour|day|week",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "waiting|waited # hours|hrs|hour|minutes|mins|days|weeks",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "{NEG} get|got|gotten|getting through",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "running|ran|run|losing out of patience",
        -1.5,
        CueKind::Complaint,
    ),
    cue("losing|lost my patience", -1.5, CueKind::Complaint),
    cue(
        "have|has|i've|ive|we've|weve been waiting|holding",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "got|received|heard|gotten nothing",
        -1.5,
        CueKind::Complaint,
    ),
    cue("nothing done|happened|changed", -1.2, CueKind::Complaint),
    cue("was|were|been promised", -0.8, CueKind::Complaint),
    // Words for bad service that VADER does not score.
    cue(
        "abysmal|atrocious|deplorable|subpar|inexcusable|shoddy|sloppy|unreliable|overpriced|extortion|shambles|overkill",
        -2.0,
        CueKind::Complaint,
    ),
    // Let-downs, sarcasm and threats to leave.
    cue(
        "lost|losing a|another|your|loyal customer|customers",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "lost|losing a|another|your loyal customer|customers",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "last time i|we use|fly|book|buy|order|shop",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "need|needs to hire|improve|learn|train|work on",
        -1.2,
        CueKind::Complaint,
    ),
    cue("what good is", -1.5, CueKind::Complaint),
    // "As a loyal customer of ten years ..." opens a complaint far more often than praise.
    cue(
        "loyal|longtime|faithful customer|customers|member|members|client|clients",
        -2.5,
        CueKind::Complaint,
    ),
    cue(
        "expected|expect|expecting|deserve|deserved|deserves better|more",
        -2.0,
        CueKind::Complaint,
    ),
    cue("could|should be better", -1.5, CueKind::Complaint),
    cue("how does|is that help|helpful", -1.5, CueKind::Complaint),
    cue("is this how you|they treat", -2.0, CueKind::Complaint),
    cue("let|letting me|us down", -2.0, CueKind::Complaint),
    cue("dropped the ball", -2.0, CueKind::Complaint),
    cue("lost all respect", -2.0, CueKind::Complaint),
    cue("lost respect|faith|trust", -2.0, CueKind::Complaint),
    cue("get it together", -1.8, CueKind::Complaint),
    cue("get your|ur act together", -1.8, CueKind::Complaint),
    // Hindsight and form letters.
    cue(
        "would've|wouldve|would have been nice|great|good|helpful|better|appreciated",
        -2.5,
        CueKind::Complaint,
    ),
    cue(
        "would've|wouldve appreciated|liked|preferred",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "would have appreciated|liked|preferred",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "canned|standard|automated|generic|scripted|robotic|form response|responses|reply|replies|answer|answers|email|letter",
        -2.0,
        CueKind::Complaint,
    ),
    cue("not so much", -2.5, CueKind::Complaint),
    cue(
        "{NEG} give a|two|2 damn|shit|shits|crap|hoot|toss",
        -2.5,
        CueKind::Complaint,
    ),
    cue("just what i|we needed", -2.0, CueKind::Complaint),
    cue("believe it when i see", -1.5, CueKind::Complaint),
    cue("never fails to disappoint", -3.0, CueKind::Complaint),
    cue(
        "doesn't|doesnt|don't|dont|won't|wont cut it",
        -1.5,
        CueKind::Complaint,
    ),
    cue("the least you|they could|can do", -1.5, CueKind::Complaint),
    cue(
        "you|y'all|yall|u need to|a|an|more",
        -0.8,
        CueKind::Complaint,
    ),
    cue("you guys need to|a|an|more", -0.8, CueKind::Complaint),
    cue(
        "you|y'all|yall|u need|needs to hire|improve|learn|train|fix",
        -1.5,
        CueKind::Complaint,
    ),
    cue("could use some|a|more", -0.8, CueKind::Complaint),
    cue(
        "take|taking|took my|our business elsewhere",
        -2.0,
        CueKind::Complaint,
    ),
    cue(
        "take|taking|took my|our business|money to",
        -1.5,
        CueKind::Complaint,
    ),
    cue(
        "another|different|other company|companies|provider|providers|carrier|carriers|airline|airlines|bank|banks|store|stores|service|services",
        -0.6,
        CueKind::Complaint,
    ),
    // Repetition.
    cue(
        "second|third|fourth|fifth|2nd|3rd|4th|5th|nth|umpteenth|hundredth time",
        -1.8,
        CueKind::Repetition,
    ),
    cue(
        "another delay|cancellation|problem|issue|error|outage|mistake|excuse",
        -1.2,
        CueKind::Repetition,
    ),
    cue("again and again", -1.5, CueKind::Repetition),
    cue("over and over", -1.5, CueKind::Repetition),
    cue("how many times", -1.5, CueKind::Repetition),
    cue(
        "keep|keeps|kept asking|telling|saying|getting|sending|repeating",
        -1.2,
        CueKind::Repetition,
    ),
    cue(
        "already told|said|asked|explained|tried|did|done|sent|gave|provided|contacted|called|emailed|wrote",
        -1.2,
        CueKind::Repetition,
    ),
    cue(
        "as i said|mentioned|explained|wrote",
        -1.0,
        CueKind::Repetition,
    ),
    cue("i just said|told", -1.0, CueKind::Repetition),
    cue("once again", -0.8, CueKind::Repetition),
    cue(
        "same problem|issue|error|answer|thing|response",
        -0.6,
        CueKind::Repetition,
    ),
    // The answer did not help.
    cue(
        "{NEG} help|helpful|helped|answer|work|solve|fix",
        -1.2,
        CueKind::NotHelped,
    ),
    cue(
        "not what i asked|meant|need|needed|wanted",
        -1.6,
        CueKind::NotHelped,
    ),
    cue("that's|thats not what i", -1.6, CueKind::NotHelped),
    cue(
        "you're|youre not listening|understanding|answering|helping",
        -1.8,
        CueKind::NotHelped,
    ),
    cue(
        "you are not listening|understanding|answering|helping",
        -1.8,
        CueKind::NotHelped,
    ),
    cue(
        "you don't|dont understand|get|listen",
        -1.6,
        CueKind::NotHelped,
    ),
    cue("read my|the question|message", -1.0, CueKind::NotHelped),
    cue("useless|pointless", -0.6, CueKind::NotHelped),
    // Profanity beyond what VADER already scores.
    cue(
        "fucking|fuckin|effing|frigging|friggin|freaking|freakin",
        -1.6,
        CueKind::Profanity,
    ),
    cue(
        "fuck*|shit*|bullshit|goddamn|dammit|damnit",
        -0.8,
        CueKind::Profanity,
    ),
    cue("wtf|ffs|omfg|stfu|smh", -0.6, CueKind::Profanity),
    cue("what the hell|heck|fuck", -0.6, CueKind::Profanity),
    cue("piece of shit|crap|junk|garbage", -2.0, CueKind::Profanity),
    cue(
        "crap|crappy|garbage|trash|bs|rubbish",
        -1.2,
        CueKind::Profanity,
    ),
    cue("argh|arggh|grr|grrr|ugh|ughh", -1.0, CueKind::Profanity),
    // Progress and thanks.
    cue(
        "that|it|this worked|works|helped|helps|fixed|solved",
        2.0,
        CueKind::Progress,
    ),
    cue(
        "works|working|fixed|sorted|resolved|solved now",
        1.8,
        CueKind::Progress,
    ),
    cue("works|worked perfectly|great|fine", 1.6, CueKind::Progress),
    cue("all set|good|sorted", 1.4, CueKind::Progress),
    cue(
        "problem|issue solved|resolved|fixed",
        1.6,
        CueKind::Progress,
    ),
    cue("got it", 1.0, CueKind::Progress),
    cue("makes sense", 1.2, CueKind::Progress),
    cue("you rock", 2.2, CueKind::Progress),
    cue("you guys rock", 2.2, CueKind::Progress),
    // Praise.
    cue("stellar|seamless|seamlessly", 2.4, CueKind::Praise),
    cue("smooth|smoothly|painless|effortless", 1.5, CueKind::Praise),
    cue("props|shoutout", 2.0, CueKind::Praise),
    cue("shout out", 1.6, CueKind::Praise),
    cue("above and beyond", 2.6, CueKind::Praise),
    cue("above beyond", 2.6, CueKind::Praise),
    cue("thank you for", 0.8, CueKind::Praise),
    cue("thanks|thx for", 0.8, CueKind::Praise),
    cue("thank you so|very much", 0.8, CueKind::Praise),
    cue("thanks so|very much", 0.8, CueKind::Praise),
    cue("made my day", 2.6, CueKind::Praise),
    // Praise for the people and the outcome that VADER does not score.
    cue(
        "phenomenal|exceptional|outstanding|rockstar|rockstars|lifesaver|mvp|legend|legends|bravo",
        2.4,
        CueKind::Praise,
    ),
    cue("top notch", 2.4, CueKind::Praise),
    cue("class act", 2.4, CueKind::Praise),
    cue("hats off", 2.0, CueKind::Praise),
    cue("nailed it", 2.0, CueKind::Praise),
    cue("exceeded|exceeds my|our expectations", 2.6, CueKind::Praise),
    cue("exceeded|exceeds expectations", 2.6, CueKind::Praise),
    cue("went|go|goes|going the extra mile", 2.6, CueKind::Praise),
    cue("saved the day", 2.0, CueKind::Praise),
    cue("helped|assisted me|us|my|our", 1.2, CueKind::Praise),
    cue("came|come through|thru for", 1.6, CueKind::Praise),
    cue(
        "got me|us home|there|here|back|rebooked|sorted",
        1.0,
        CueKind::Praise,
    ),
    cue(
        "sorted|straightened|worked me|us|it|things out",
        1.5,
        CueKind::Praise,
    ),
    cue("made it", 1.0, CueKind::Praise),
    cue(
        "quick|fast|prompt|speedy response|reply|service|answer|help|assistance|support",
        1.6,
        CueKind::Praise,
    ),
    // Requests VADER reads as praise: "please help" is a need, not a compliment.
    cue("please help", -2.4, CueKind::Request),
    cue("help me|please|pls|plz", -1.6, CueKind::Request),
    cue("need|needs|any|some help", -1.5, CueKind::Request),
    cue(
        "can|could|would|will you|someone|anyone help",
        -1.5,
        CueKind::Request,
    ),
    cue(
        "would|'d|i'd|we'd love to|a|an|some|more|the|it|if",
        -1.4,
        CueKind::Request,
    ),
    cue("i|we would love", -1.4, CueKind::Request),
    // "It would be nice if ..." (a complaint, as "be nice if" above), before the request.
    cue(
        "would|'d|that'd|it'd be nice|great|good|helpful|awesome|better if",
        -3.0,
        CueKind::Complaint,
    ),
    // "An update would be great": a request, not praise.
    cue(
        "would|'d be great|nice|perfect|wonderful|awesome|appreciated|helpful|amazing|fantastic",
        -2.0,
        CueKind::Request,
    ),
    cue(
        "that'd|thatd|it'd be great|nice|perfect|wonderful|awesome|appreciated|helpful|amazing|fantastic",
        -2.0,
        CueKind::Request,
    ),
    cue(
        "hoping|hope to|for|that|you|someone",
        -1.0,
        CueKind::Request,
    ),
    cue("please", -1.0, CueKind::Request),
    cue("help", -1.4, CueKind::Request),
];

/// Praise that is sarcasm when the same message complains ("yay, another delay", "great
/// job losing my bag", "love how nobody answers").
const SARCASM_MARKERS: &[&str] = &[
    "yay|yey|yaay|hooray|woohoo|yippee",
    "great|nice|fantastic|awesome|excellent|brilliant|stellar job|work",
    "way to go",
    "well done",
    "love|loving|luv how|when",
    "love|loving|luv it|that when",
    "gotta|got love",
    "got to love",
    "just love|loved|loving",
    "so much fun",
    "fun times",
    "oh great|good|joy|wonderful|nice",
    "real nice|classy|smooth|professional",
    "how nice|lovely|convenient|thoughtful|wonderful",
    "what a great|wonderful|lovely|fantastic|nice|fun",
    "thanks|thx for nothing|letting|making|leaving|losing|ruining|wasting|allowing|reminding|keeping",
    "thank you for nothing|letting|making|leaving|losing|ruining|wasting|allowing|reminding|keeping",
];

/// How many words from a complaint cue a sarcasm marker may stand.
const SARCASM_REACH: usize = 10;

/// Emoji the crate leaves at zero or misjudges, with valences in VADER's scale.
const EMOJI: &[(char, f64)] = &[
    ('❤', 2.5),
    ('💙', 2.3),
    ('💕', 2.3),
    ('👍', 1.5),
    ('👎', -1.8),
    ('😡', -2.6),
    ('🤬', -3.0),
    ('😤', -2.0),
    ('🙄', -1.5),
    ('😒', -1.5),
    ('💩', -1.5),
    ('🤦', -1.5),
    ('😑', -0.8),
    ('😐', -0.4),
    ('👏', 1.2),
    ('🙏', 0.5),
    ('💯', 1.0),
    ('✅', 0.6),
    ('❌', -0.8),
    ('🥳', 2.0),
    ('🤩', 2.5),
    ('😠', -2.2),
    ('♥', 2.5),
    ('💖', 2.5),
    ('💗', 2.3),
    ('💛', 2.3),
    ('💚', 2.3),
    ('💜', 2.3),
    ('🧡', 2.3),
    ('😀', 2.0),
    ('😃', 2.0),
    ('😄', 2.2),
    ('😁', 2.0),
    ('😊', 2.0),
    ('☺', 1.8),
    ('🙂', 1.2),
    ('😉', 1.0),
    ('😍', 2.8),
    ('😘', 2.0),
    ('😎', 1.2),
    ('🎉', 1.8),
    ('🙌', 1.8),
    ('😂', 0.8),
    ('🤣', 0.8),
    ('😢', -2.0),
    ('😭', -2.2),
    ('😞', -2.0),
    ('😔', -1.8),
    ('😩', -2.0),
    ('😫', -2.0),
    ('😕', -1.0),
    ('☹', -1.8),
    ('🙁', -1.5),
    ('😖', -1.8),
    ('😣', -1.6),
    ('💔', -2.5),
    ('😱', -1.5),
    ('😰', -1.5),
    ('😟', -1.5),
    ('😓', -1.2),
    ('😬', -0.8),
    ('😪', -1.0),
    ('🤢', -2.0),
    ('🤮', -2.5),
];

/// The features of a message that the calibration weighs, in [`FEATURE_NAMES`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feature {
    VaderPositive,
    VaderNegative,
    Emoji,
    Complaint,
    Repetition,
    NotHelped,
    Profanity,
    Progress,
    Request,
    Shouting,
    Emphasis,
    Negations,
    Question,
    Asks,
    PositiveInComplaint,
    Sarcasm,
}

impl From<CueKind> for Feature {
    fn from(kind: CueKind) -> Self {
        match kind {
            CueKind::Complaint => Feature::Complaint,
            CueKind::Repetition => Feature::Repetition,
            CueKind::NotHelped => Feature::NotHelped,
            CueKind::Profanity => Feature::Profanity,
            CueKind::Progress => Feature::Progress,
            CueKind::Request => Feature::Request,
            CueKind::Praise => Feature::Progress,
        }
    }
}

/// How many features a message has.
pub const FEATURE_COUNT: usize = 16;

/// The names of the features, in the order of [`SentimentFeatures::values`] and
/// [`SentimentCalibration::weights`].
pub const FEATURE_NAMES: [&str; FEATURE_COUNT] = [
    "vader_positive",
    "vader_negative",
    "emoji",
    "complaint",
    "repetition",
    "not_helped",
    "profanity",
    "progress",
    "request",
    "shouting",
    "emphasis",
    "negations",
    "question",
    "asks",
    "positive_in_complaint",
    "sarcasm",
];

/// Interpretable features of one message, each on VADER's valence scale (-4..4 a word):
/// the crate's valence of the positive and of the negative sentences; emoji; the summed
/// valence of each kind of support cue (praise counts with progress); -1 for shouting and
/// for "!!"/"??" on a negative message; minus the number of negations outside any cue (at
/// most 3); for a plain question (one that carries no strong complaint), its lexical valence
/// (so that a negative weight damps it) and 1 for asking (without a cue, a statement to
/// support reports a problem more often than a question does); and, when the message
/// complains, the crate's positive valence and the praise cues again (so that a negative
/// weight reads "thanks" and "please" in a complaint as politeness or sarcasm, not praise);
/// and, when a marker of sarcasm ("yay", "great job", "love how") stands near a complaint
/// cue, that positive valence once more (so that a weight below -1 turns it against the
/// message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentimentFeatures {
    /// The feature values, in [`FEATURE_NAMES`] order.
    pub values: [f64; FEATURE_COUNT],
    /// How strongly the message's wording judges, relative to average rated text (below 1
    /// for matter-of-fact wording, at most about 2.8): the weighted sum is
    /// multiplied by it before normalisation. Learned from rated general text (see
    /// `sentiment/intensity.rs`); 1 leaves the sum as it is.
    pub intensity: f64,
}

/// The learned layer over [`SentimentFeatures`]:
/// `score = normalize(intensity · (bias + Σ wᵢ·xᵢ))` with VADER's normalisation
/// `x / sqrt(x² + 15)`, so a weight of 1 keeps a feature on VADER's own scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentimentCalibration {
    /// One weight per feature, in [`FEATURE_NAMES`] order.
    pub weights: [f64; FEATURE_COUNT],
    /// Added to the weighted sum.
    pub bias: f64,
}

/// The hand-set weights the lexicon was written for, and the prior the fit shrinks toward:
/// every valence as written, shouting -0.8, emphasis -0.6, -0.7 per stray negation, a
/// plain question's valence halved, +0.5 for asking, positive words in a complaint
/// counted at half, and sarcastic praise counted against the message (-1.5).
const PRIOR_WEIGHTS: [f64; FEATURE_COUNT] = [
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 0.7, -0.5, 0.5, -0.5, -1.5,
];

/// The shipped weights: the hand-set prior. `fit-sentiment`
/// (`cargo run --release -p baton-core --example fit-sentiment -- ../shared/data/dev`) refits
/// them on the even-numbered lines of the four `vader_groundtruth` files (MIT licence; target:
/// the mean human rating divided by 4) and scores the odd-numbered lines: the refitted weights
/// correlate worse with the held-out ratings than the prior (see
/// `docs/evaluation-signals.md`), so the prior is what ships. The airline tweets are not used
/// for shipped values (CC BY-NC-SA). Operators with rated conversations of their own can fit
/// a calibration with [`SentimentCalibration::fit`] and [`SentimentModel::with_calibration`].
const BUILTIN_WEIGHTS: [f64; FEATURE_COUNT] = PRIOR_WEIGHTS;
const BUILTIN_BIAS: f64 = 0.0;

/// The weights that general rated text can calibrate: the crate's positive and negative
/// valences.
const GENERAL_TEXT_WEIGHTS: [bool; FEATURE_COUNT] = {
    let mut w = [false; FEATURE_COUNT];
    w[Feature::VaderPositive as usize] = true;
    w[Feature::VaderNegative as usize] = true;
    w
};

/// Options of [`SentimentCalibration::fit`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Strength of the pull toward the prior weights (per weight, on the mean loss).
    pub l2: f64,
    /// Gradient steps (full batch, Adam).
    pub steps: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Which weights are fitted, in [`FEATURE_NAMES`] order; the others keep their prior.
    /// The bias is always fitted.
    pub fitted: [bool; FEATURE_COUNT],
}

impl FitOptions {
    /// Options that fit every weight (for data from the domain the model is used in).
    pub fn all_weights() -> Self {
        FitOptions {
            fitted: [true; FEATURE_COUNT],
            ..Self::default()
        }
    }
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2: 0.002,
            steps: 1500,
            learning_rate: 0.02,
            // General rated text (the shipped fit) calibrates the crate's own valences; the
            // support-language weights stay as written, since such text has little of it.
            fitted: GENERAL_TEXT_WEIGHTS,
        }
    }
}

impl Default for SentimentCalibration {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SentimentCalibration {
    /// The shipped calibration (see `BUILTIN_WEIGHTS` for the data it was fitted on).
    pub const fn builtin() -> Self {
        SentimentCalibration {
            weights: BUILTIN_WEIGHTS,
            bias: BUILTIN_BIAS,
        }
    }

    /// The hand-set weights, before any fitting.
    pub const fn prior() -> Self {
        SentimentCalibration {
            weights: PRIOR_WEIGHTS,
            bias: 0.0,
        }
    }

    /// The weighted sum on VADER's raw scale, before the intensity factor and normalisation.
    pub fn raw(&self, features: &SentimentFeatures) -> f64 {
        self.bias
            + self
                .weights
                .iter()
                .zip(&features.values)
                .map(|(w, x)| w * x)
                .sum::<f64>()
    }

    /// The score in [-1, 1] for these features.
    pub fn score(&self, features: &SentimentFeatures) -> f64 {
        normalize(self.raw(features) * features.intensity)
    }

    /// Fits the weights to `targets` in [-1, 1] (one per example) by least squares on the
    /// normalised score, shrinking toward [`Self::prior`]. Deterministic; returns the prior
    /// when there are no examples.
    pub fn fit(examples: &[(SentimentFeatures, f64)], options: FitOptions) -> Self {
        let prior = Self::prior();
        let mut params = [0.0f64; FEATURE_COUNT + 1];
        params[..FEATURE_COUNT].copy_from_slice(&prior.weights);
        if examples.is_empty() {
            return prior;
        }
        let n = examples.len() as f64;
        let (mut m, mut v) = ([0.0f64; FEATURE_COUNT + 1], [0.0f64; FEATURE_COUNT + 1]);
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        for step in 1..=options.steps {
            let mut grad = [0.0f64; FEATURE_COUNT + 1];
            for (x, t) in examples {
                let raw = params[FEATURE_COUNT]
                    + params[..FEATURE_COUNT]
                        .iter()
                        .zip(&x.values)
                        .map(|(w, x)| w * x)
                        .sum::<f64>();
                let z = raw * x.intensity;
                let d = z * z + ALPHA;
                let y = z / d.sqrt();
                // d normalize(k·raw) / d raw = k · ALPHA / ((k·raw)² + ALPHA)^(3/2).
                let g = 2.0 * (y - t) * x.intensity * ALPHA / (d * d.sqrt()) / n;
                for (gi, xi) in grad.iter_mut().zip(&x.values) {
                    *gi += g * xi;
                }
                grad[FEATURE_COUNT] += g;
            }
            for i in 0..FEATURE_COUNT {
                grad[i] = if options.fitted[i] {
                    grad[i] + 2.0 * options.l2 * (params[i] - prior.weights[i])
                } else {
                    0.0
                };
            }
            for i in 0..=FEATURE_COUNT {
                m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
                v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
                let mh = m[i] / (1.0 - b1.powi(step as i32));
                let vh = v[i] / (1.0 - b2.powi(step as i32));
                params[i] -= options.learning_rate * mh / (vh.sqrt() + eps);
            }
        }
        let mut weights = [0.0f64; FEATURE_COUNT];
        weights.copy_from_slice(&params[..FEATURE_COUNT]);
        SentimentCalibration {
            weights,
            bias: params[FEATURE_COUNT],
        }
    }
}

/// "But ...", "However, ...": a sentence that turns against the one before.
fn opens_with_contrast(sentence: &str) -> bool {
    let first = sentence.split_whitespace().next().map(|w| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_ascii_lowercase()
    });
    matches!(
        first.as_deref(),
        Some("but" | "however" | "although" | "though" | "yet")
    )
}

/// The valence of a sentence that only thanks, on VADER's scale.
const THANKS_ONLY: f64 = 1.5;

/// A sentence made of thanks and nothing else: "Thank you!", "thanks so much for the quick
/// reply", "thx for the update", "many thanks".
fn is_thanks_only(sentence: &str) -> bool {
    const THANKS: &[&str] = &[
        "thanks",
        "thank",
        "thx",
        "thnx",
        "thanx",
        "ty",
        "tysm",
        "tyvm",
        "cheers",
        "appreciate",
        "appreciated",
    ];
    const WITH_THANKS: &[&str] = &[
        "you",
        "u",
        "so",
        "much",
        "very",
        "a",
        "lot",
        "again",
        "for",
        "the",
        "your",
        "all",
        "guys",
        "y'all",
        "everyone",
        "team",
        "it",
        "this",
        "that",
        "many",
        "kindly",
        "help",
        "helping",
        "update",
        "updates",
        "reply",
        "replies",
        "response",
        "responding",
        "info",
        "information",
        "quick",
        "fast",
        "prompt",
        "follow",
        "following",
        "up",
        "and",
        "really",
        "truly",
        "once",
        "more",
        "ok",
        "okay",
        "great",
        "awesome",
        "heads",
        "assistance",
        "support",
    ];
    let mut thanks = false;
    for w in sentence
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
    {
        if THANKS.iter().any(|t| w.eq_ignore_ascii_case(t)) {
            thanks = true;
        } else if !WITH_THANKS.iter().any(|t| w.eq_ignore_ascii_case(t)) {
            return false;
        }
    }
    thanks
}

/// Words that negate what follows.
fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "no"
            | "never"
            | "nothing"
            | "nobody"
            | "none"
            | "nowhere"
            | "cannot"
            | "cant"
            | "dont"
            | "didnt"
            | "doesnt"
            | "wont"
            | "isnt"
            | "wasnt"
            | "arent"
            | "werent"
            | "havent"
            | "hasnt"
            | "hadnt"
            | "couldnt"
            | "wouldnt"
            | "shouldnt"
    ) || w.ends_with("n't")
}

/// The sentiment of one message, with the support cues found in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SentimentReading {
    /// Sentiment in [-1, 1] (VADER compound scale).
    pub score: f64,
    /// Most letters are capitals ("THIS IS BROKEN AGAIN").
    pub shouting: bool,
    /// Runs of "!!" / "??" / "?!".
    pub emphatic_punctuation: bool,
    /// Number of cues of each kind, indexed like [`CueKind`] declaration order.
    counts: [u8; 7],
    /// The support phrases found, as the customer wrote them (folded).
    pub evidence: Vec<String>,
}

impl SentimentReading {
    /// How many cues of `kind` the message holds.
    pub fn count(&self, kind: CueKind) -> u8 {
        self.counts[kind_index(kind)]
    }
}

fn kind_index(kind: CueKind) -> usize {
    match kind {
        CueKind::Complaint => 0,
        CueKind::Repetition => 1,
        CueKind::NotHelped => 2,
        CueKind::Profanity => 3,
        CueKind::Progress => 4,
        CueKind::Request => 5,
        CueKind::Praise => 6,
    }
}

/// The sentiment model: VADER plus support language, optionally adapted to a domain with
/// labelled messages. Build once; scoring is `&self`.
pub struct SentimentModel {
    vader: SentimentIntensityAnalyzer<'static>,
    phrases: PhraseSet,
    /// [`SARCASM_MARKERS`].
    sarcasm: PhraseSet,
    /// Valence and kind of each phrase, by phrase index.
    cues: Vec<(f64, CueKind)>,
    /// How strongly rated general text judges a message's words (scales the score).
    intensity: Intensity,
    calibration: SentimentCalibration,
    adapted: Option<Adaptation>,
}

/// A classifier learned from the operator's own labelled messages, blended with the lexicon.
struct Adaptation {
    classifier: IssueClassifier,
    negative: usize,
    positive: usize,
}

/// Labels an adapted sentiment model learns from.
pub const SENTIMENT_LABELS: [&str; 3] = ["negative", "neutral", "positive"];

impl std::fmt::Debug for SentimentModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentimentModel")
            .field("cues", &self.cues.len())
            .field("intensity_terms", &self.intensity.len())
            .field("calibration", &self.calibration)
            .field("adapted", &self.adapted.is_some())
            .finish()
    }
}

impl Default for SentimentModel {
    fn default() -> Self {
        Self::new()
    }
}

impl SentimentModel {
    /// Builds the model with the built-in support lexicon.
    pub fn new() -> Self {
        let mut phrases = PhraseSet::default();
        let mut cues = Vec::with_capacity(CUES.len());
        for c in CUES {
            let pattern = c.pattern.replace("{NEG}", NEG_AUX);
            phrases.add(&pattern);
            cues.push((c.valence, c.kind));
        }
        let mut sarcasm = PhraseSet::default();
        for m in SARCASM_MARKERS {
            sarcasm.add(m);
        }
        SentimentModel {
            vader: SentimentIntensityAnalyzer::new(),
            phrases,
            sarcasm,
            cues,
            intensity: Intensity::builtin(),
            calibration: SentimentCalibration::builtin(),
            adapted: None,
        }
    }

    /// The same model with another calibration (e.g. one refitted with
    /// [`SentimentCalibration::fit`] on the operator's own rated messages).
    pub fn with_calibration(mut self, calibration: SentimentCalibration) -> Self {
        self.calibration = calibration;
        self
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &SentimentCalibration {
        &self.calibration
    }

    /// The interpretable features of one message that the calibration weighs.
    pub fn features(&self, text: &str) -> SentimentFeatures {
        self.analyse(text).1
    }

    /// The terms the intensity reading weighs in a message (its folded words and pairs of
    /// neighbouring words), for the generator of its weights (`fit-sentiment-words`).
    pub fn intensity_terms(&self, text: &str) -> Vec<String> {
        let folded = self.folded(text);
        let ws: Vec<&str> = words(&folded).collect();
        intensity::terms(&ws)
    }

    /// The message as the intensity reading sees it: without handles and links, entities
    /// decoded, hashtags and held letters written out, sentences unglued, folded.
    fn folded(&self, text: &str) -> String {
        let text = strip_handles_and_links(text);
        let text = unescape_html(text.as_ref());
        let text = self.expand_social(text.as_ref());
        fold(&unglue_sentences(text.as_ref()))
    }

    /// The model adapted to a domain: a text classifier learned from messages labelled
    /// `negative`, `neutral` or `positive` (e.g. past conversations rated by the team) is
    /// blended half and half with the lexicon score. Without examples, use [`Self::new`].
    pub fn with_examples(examples: &[LabelledText]) -> Result<Self, SignalError> {
        if let Some(bad) = examples
            .iter()
            .find(|e| !SENTIMENT_LABELS.contains(&e.label.as_str()))
        {
            return Err(SignalError::SentimentExamples(format!(
                "examples are labelled negative, neutral or positive, not `{}`",
                bad.label
            )));
        }
        let taxonomy = Taxonomy::from_labels(SENTIMENT_LABELS);
        let classifier = IssueClassifier::train(&taxonomy, examples)
            .map_err(|e| SignalError::SentimentExamples(e.to_string()))?;
        let position = |name: &str| classifier.labels().iter().position(|l| l == name);
        let (Some(negative), Some(positive)) = (position("negative"), position("positive")) else {
            return Err(SignalError::SentimentExamples("labels missing".into()));
        };
        let mut model = Self::new();
        model.adapted = Some(Adaptation {
            classifier,
            negative,
            positive,
        });
        Ok(model)
    }

    /// Scores one message.
    pub fn read(&self, text: &str) -> SentimentReading {
        let (mut reading, features) = self.analyse(text);
        reading.score = self.calibration.score(&features);
        if let Some(a) = &self.adapted {
            let p = a.classifier.probabilities(text);
            let learned = f64::from(p[a.positive] - p[a.negative]);
            reading.score = (0.35 * reading.score + 0.65 * learned).clamp(-1.0, 1.0);
        }
        reading
    }

    /// Reads one message into its cues and features; the score is left to the calibration.
    fn analyse(&self, text: &str) -> (SentimentReading, SentimentFeatures) {
        let mut reading = SentimentReading::default();
        let mut f = [0.0f64; FEATURE_COUNT];

        // @mentions and links carry no sentiment ("@united" is a name, not praise).
        let text = strip_handles_and_links(text);
        let text = unescape_html(text.as_ref());
        // "#neveragain" and "sooo slooow" hide words from both VADER and the cues.
        let text = self.expand_social(text.as_ref());
        let text = text.as_ref();

        // Emoji the crate does not know: take them out of its input and score them here.
        let mut cleaned = String::with_capacity(text.len());
        for c in text.chars() {
            match EMOJI.iter().find(|(e, _)| *e == c) {
                Some((_, v)) => {
                    f[Feature::Emoji as usize] += v;
                    cleaned.push(' ');
                }
                // Variation selectors and joiners that follow emoji.
                None if matches!(c, '\u{FE0F}' | '\u{200D}') => {}
                None => cleaned.push(c),
            }
        }

        let cleaned = unglue_sentences(&cleaned);
        let mut asks = false;
        let mut thanks_only = false;
        // A sentence that opens with "But" or "However" outweighs the one before it, as
        // VADER weighs the clauses around "but" inside a sentence.
        let mut previous: Option<f64> = None;
        let add = |f: &mut [f64; FEATURE_COUNT], raw: f64| {
            if raw > 0.0 {
                f[Feature::VaderPositive as usize] += raw;
            } else {
                f[Feature::VaderNegative as usize] += raw;
            }
        };
        for sentence in sentences(&cleaned) {
            thanks_only |= is_thanks_only(sentence);
            let mut raw = self.vader_raw(sentence);
            if let Some(before) = previous.take() {
                if opens_with_contrast(sentence) {
                    add(&mut f, before * 0.5);
                    raw *= 1.5;
                } else {
                    add(&mut f, before);
                }
            }
            previous = Some(raw);
            asks |= sentence.trim_end().ends_with('?');
        }
        if let Some(last) = previous {
            add(&mut f, last);
        }

        let folded = fold(&cleaned);
        let ws: Vec<&str> = words(&folded).collect();
        // Matter-of-fact wording ("what time does check-in open for flight 80?") keeps the
        // sign of the reading but less of its strength; judging wording keeps more.
        let intensity = self.intensity.factor(&ws);
        let mut found: Vec<PhraseMatch> = Vec::new();
        self.phrases.find(&ws, &mut found);
        let mut in_cue = vec![false; ws.len()];
        // Cues that make a message a complaint even when it is phrased as a question.
        let mut strong_complaints = 0u32;
        let mut praise = 0.0;
        // Where the complaint cues are, to tell sarcasm from praise next to them.
        let mut complaint_at: Vec<usize> = Vec::new();
        for m in &found {
            let (valence, kind) = self.cues[m.phrase];
            if valence <= -0.8 && kind != CueKind::Request {
                complaint_at.push(m.start);
            }
            if valence <= -1.0
                && matches!(
                    kind,
                    CueKind::Complaint
                        | CueKind::Repetition
                        | CueKind::NotHelped
                        | CueKind::Profanity
                )
            {
                strong_complaints += 1;
            }
            f[Feature::from(kind) as usize] += valence;
            if kind == CueKind::Praise {
                praise += valence;
            }
            reading.counts[kind_index(kind)] = reading.counts[kind_index(kind)].saturating_add(1);
            in_cue[m.start..m.end].iter_mut().for_each(|x| *x = true);
            if kind != CueKind::Request {
                reading.evidence.push(ws[m.start..m.end].join(" "));
            }
        }
        // Negations outside any cue: in support language "I can't check in", "they didn't
        // call back" state a problem even without a sentiment word.
        let negations = ws
            .iter()
            .zip(&in_cue)
            .enumerate()
            .filter(|(i, (w, inside))| {
                !**inside
                    && is_negation(w)
                    && !(**w == "no" && ws.get(i + 1).is_some_and(|n| is_number_like(n)))
            })
            .count();
        f[Feature::Negations as usize] = -(negations.min(3) as f64);
        // A sentence that only thanks ("Thank you!", "thx for the update") in a message with
        // no complaint is gratitude, stronger than the crate's valence of "thank".
        if thanks_only && strong_complaints == 0 && f[Feature::VaderNegative as usize] == 0.0 {
            f[Feature::Progress as usize] += THANKS_ONLY;
            reading.counts[kind_index(CueKind::Praise)] += 1;
            reading.evidence.push("thanks".to_string());
        }

        let lexical: f64 = f[..Feature::Shouting as usize].iter().sum();
        reading.shouting = is_shouting(text);
        reading.emphatic_punctuation = has_emphatic_punctuation(text);
        // Shouting reads as anger unless the message is clearly positive ("THANK YOU!!").
        if reading.shouting && lexical <= 0.5 {
            f[Feature::Shouting as usize] = -1.0;
        }
        // "!!" and "??" only amplify negativity that is there.
        if reading.emphatic_punctuation && lexical < 0.0 {
            f[Feature::Emphasis as usize] = -1.0;
        }
        // Positive words in a complaint are politeness or sarcasm more often than praise.
        let complaint_cues = reading.count(CueKind::Complaint)
            + reading.count(CueKind::Repetition)
            + reading.count(CueKind::NotHelped)
            + reading.count(CueKind::Profanity);
        if complaint_cues > 0 {
            let positive = f[Feature::VaderPositive as usize] + praise;
            f[Feature::PositiveInComplaint as usize] = positive;
            // With a marker of sarcasm ("yay", "great job", "love how"), the praise is
            // the complaint's: it counts against the message.
            found.clear();
            self.sarcasm.find(&ws, &mut found);
            let near = |m: &PhraseMatch| {
                complaint_at
                    .iter()
                    .any(|&c| c + SARCASM_REACH >= m.start && c <= m.end + SARCASM_REACH)
            };
            if let Some(m) = found.iter().find(|m| near(m)) {
                f[Feature::Sarcasm as usize] = positive;
                reading.evidence.push(ws[m.start..m.end].join(" "));
            }
        }
        // A plain question ("is my flight delayed?", "can you check my booking? thanks!")
        // asks rather than complains or praises: its lexical valence is damped, unless it
        // carries a strong complaint cue ("still not working"), a "??" or a shout.
        if asks && strong_complaints == 0 && !reading.emphatic_punctuation && !reading.shouting {
            f[Feature::Question as usize] = lexical;
            f[Feature::Asks as usize] = 1.0;
        }
        (
            reading,
            SentimentFeatures {
                values: f,
                intensity,
            },
        )
    }

    /// The crate's compound for one sentence, mapped back to VADER's raw valence sum, after
    /// rewriting "no <sentiment word>" to "not <sentiment word>" (the rule of VADER 3.3.2:
    /// "no problem" is positive, "no help" negative). Exclamation and question marks are
    /// applied here as VADER 3.3.2 does: they amplify sentiment that is there, and never
    /// make a neutral sentence negative (the crate subtracts them when the sum is zero).
    fn vader_raw(&self, sentence: &str) -> f64 {
        let (bangs, questions) = sentence.chars().fold((0u32, 0u32), |(b, q), c| match c {
            '!' => (b + 1, q),
            '?' => (b, q + 1),
            _ => (b, q),
        });
        let plain: std::borrow::Cow<'_, str> = if bangs + questions > 0 {
            sentence.replace(['!', '?'], " ").into()
        } else {
            sentence.into()
        };
        let plain = match neutral_senses(&plain) {
            Some(s) => std::borrow::Cow::Owned(s),
            None => plain,
        };
        let rewritten = self.fix_no_rule(&plain);
        let compound = self
            .vader
            .polarity_scores(rewritten.as_deref().unwrap_or(&plain))
            .compound;
        let raw = denormalize(compound);
        let emphasis = f64::from(bangs.min(4)) * 0.292
            + match questions {
                0 | 1 => 0.0,
                2 | 3 => f64::from(questions) * 0.18,
                _ => 0.96,
            };
        if raw > 0.0 {
            raw + emphasis
        } else if raw < 0.0 {
            raw - emphasis
        } else {
            0.0
        }
    }

    /// Whether the crate gives one word a valence of its own.
    fn has_valence(&self, word: &str) -> bool {
        self.vader.polarity_scores(word).compound != 0.0
    }

    /// Writes out what social-media spelling hides from a lexicon: letters held for
    /// emphasis ("sloooow", "greeeat", "noooope") are shortened to the word the lexicon
    /// knows, and hashtags are split into words ("#NeverAgain", "#worstflightever",
    /// "#epicfail" read as "never again", "worst flightever", "epic fail").
    fn expand_social<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let elongated = |w: &str| {
            let b = w.as_bytes();
            b.windows(3)
                .any(|x| x[0] == x[1] && x[1] == x[2] && x[0].is_ascii_alphabetic())
        };
        let hashtag = |w: &str| {
            w.strip_prefix('#').is_some_and(|h| {
                h.len() >= 4 && h.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            })
        };
        if !text.split_whitespace().any(|w| elongated(w) || hashtag(w)) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 16);
        for (i, w) in text.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let w = if elongated(w) {
                std::borrow::Cow::Owned(self.shorten_elongated(w))
            } else {
                std::borrow::Cow::Borrowed(w)
            };
            if hashtag(&w) {
                self.split_hashtag(&w[1..], &mut out);
            } else {
                out.push_str(&w);
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// "sloooow" → "slow", "goood" → "good": runs of three or more letters become two when
    /// the lexicon knows that word, otherwise one.
    fn shorten_elongated(&self, word: &str) -> String {
        let collapse = |keep: usize| {
            let mut s = String::with_capacity(word.len());
            let mut run = 0usize;
            let mut prev = None;
            for c in word.chars() {
                run = if Some(c) == prev { run + 1 } else { 1 };
                prev = Some(c);
                if run <= keep || !c.is_alphabetic() {
                    s.push(c);
                }
            }
            s
        };
        let two = collapse(2);
        let one = collapse(1);
        let core = |s: &str| s.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
        if self.has_valence(&core(&two)) {
            two
        } else {
            one
        }
    }

    /// Splits a hashtag (without its `#`) into words: at capitals ("NeverAgain"), else
    /// around the longest leading and trailing words the lexicon scores or that negate
    /// ("worstflightever", "epicfail", "noanswer"). Unknown hashtags are kept as one word.
    fn split_hashtag(&self, tag: &str, out: &mut String) {
        let (body, tail) = tag.split_at(
            tag.find(|c: char| !c.is_alphanumeric())
                .unwrap_or(tag.len()),
        );
        let has_inner_capital =
            body.chars().skip(1).any(char::is_uppercase) && body.chars().any(char::is_lowercase);
        if has_inner_capital {
            let mut prev_lower = false;
            for c in body.chars() {
                if c.is_uppercase() && prev_lower {
                    out.push(' ');
                }
                prev_lower = c.is_lowercase() || c.is_ascii_digit();
                out.push(c);
            }
            out.push_str(tail);
            return;
        }
        let lower = body.to_lowercase();
        let known =
            |w: &str| w.len() >= 3 && (self.has_valence(w) || matches!(w, "never" | "not" | "no"));
        let n = lower.len();
        let is_char = |i: usize| lower.is_char_boundary(i);
        let prefix = (2..n.saturating_sub(1))
            .rev()
            .filter(|&i| is_char(i))
            .find(|&i| known(&lower[..i]) || (i == 2 && &lower[..2] == "no"));
        let suffix_start = prefix.unwrap_or(0);
        let suffix = (suffix_start + 1..n.saturating_sub(2))
            .filter(|&i| is_char(i))
            .find(|&i| known(&lower[i..]) && (i == suffix_start || i - suffix_start >= 3));
        match (prefix, suffix) {
            (None, None) => out.push_str(&lower),
            (p, s) => {
                let a = p.unwrap_or(0);
                let b = s.unwrap_or(n);
                for part in [&lower[..a], &lower[a..b], &lower[b..]] {
                    if !part.is_empty() {
                        if !out.ends_with(' ') && !out.is_empty() {
                            out.push(' ');
                        }
                        out.push_str(part);
                    }
                }
            }
        }
        out.push_str(tail);
    }

    fn fix_no_rule(&self, sentence: &str) -> Option<String> {
        let has_no = sentence
            .as_bytes()
            .windows(2)
            .any(|w| w[0].eq_ignore_ascii_case(&b'n') && w[1].eq_ignore_ascii_case(&b'o'));
        if !has_no {
            return None;
        }
        let tokens: Vec<&str> = sentence.split_whitespace().collect();
        let mut out: Option<Vec<&str>> = None;
        for i in 0..tokens.len().saturating_sub(1) {
            let t = tokens[i].trim_matches(|c: char| !c.is_alphanumeric());
            // "No, ..." keeps the crate's reading of a flat refusal.
            if !t.eq_ignore_ascii_case("no") || tokens[i].ends_with([',', '.', '!', '?']) {
                continue;
            }
            let next = tokens[i + 1].trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
            if next.is_empty() || self.vader.polarity_scores(next).compound == 0.0 {
                continue;
            }
            out.get_or_insert_with(|| tokens.clone())[i] = "not";
        }
        out.map(|t| t.join(" "))
    }
}

/// Takes out the words VADER scores in a sense they rarely have in a support message:
/// "like" as a comparison or a request ("looks like", "like a", "would like"), "yes", "ok"
/// or "sure" opening an answer, and the "care" and "credit" of "customer care" and "credit
/// card". `None` when the sentence has none of them.
fn neutral_senses(sentence: &str) -> Option<String> {
    const LIKE_SUBJECTS: &[&str] = &[
        "i",
        "we",
        "you",
        "they",
        "u",
        "really",
        "also",
        "totally",
        "definitely",
        "do",
        "don't",
        "dont",
        "didn't",
        "didnt",
        "does",
        "doesn't",
        "doesnt",
        "still",
        "actually",
        "genuinely",
        "certainly",
    ];
    fn bare(t: &str) -> &str {
        t.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
    }
    let any = |w: &str, list: &[&str]| list.iter().any(|x| w.eq_ignore_ascii_case(x));
    let tokens: Vec<&str> = sentence.split_whitespace().collect();
    let drops = |i: usize| {
        let w = bare(tokens[i]);
        if w.eq_ignore_ascii_case("like") {
            // "I like", "we really like", "don't like": the verb keeps its sense.
            !(i > 0 && any(bare(tokens[i - 1]), LIKE_SUBJECTS))
        } else if any(w, &["yes", "yeah", "yep", "yup", "ok", "okay", "well"]) {
            i == 0
        } else if w.eq_ignore_ascii_case("sure") {
            // "Sure", "make sure", "not sure": an answer or certainty, not sentiment.
            true
        } else if w.eq_ignore_ascii_case("care") {
            i > 0 && bare(tokens[i - 1]).eq_ignore_ascii_case("customer")
        } else if w.eq_ignore_ascii_case("no") || w.eq_ignore_ascii_case("no.") {
            // "flight no UA80", "order no. 1234": an abbreviation of "number".
            tokens.get(i + 1).is_some_and(|n| is_number_like(n))
        } else if w.eq_ignore_ascii_case("credit") {
            tokens
                .get(i + 1)
                .is_some_and(|n| any(bare(n), &["card", "cards"]))
        } else {
            false
        }
    };
    if !(0..tokens.len()).any(drops) {
        return None;
    }
    let kept: Vec<&str> = (0..tokens.len())
        .filter(|&i| !drops(i))
        .map(|i| tokens[i])
        .collect();
    Some(kept.join(" "))
}

/// Whether a sentence candidate ends in "no." and the text after it opens with a number.
fn abbreviates_number(before: &[u8], after: &[u8]) -> bool {
    let n = before.len();
    let ends_with_no = n >= 3
        && before[n - 1] == b'.'
        && before[n - 3..n - 1].eq_ignore_ascii_case(b"no")
        && (n == 3 || !before[n - 4].is_ascii_alphanumeric());
    ends_with_no
        && after
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(u8::is_ascii_digit)
}

/// A token that carries a digit: a number, a code or a reference ("1234", "UA80", "#5").
fn is_number_like(token: &str) -> bool {
    token.chars().any(|c| c.is_ascii_digit())
}

/// Puts a space after sentence punctuation glued to the next word ("child.Ridiculous!"),
/// which the crate would read as one unknown word.
fn unglue_sentences(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    let glued = (1..b.len().saturating_sub(1)).any(|i| {
        matches!(b[i], b'.' | b'!' | b'?' | b',' | b';')
            && b[i - 1].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
    });
    if !glued {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        out.push(c);
        if matches!(c, '.' | '!' | '?' | ',' | ';')
            && i > 0
            && chars[i - 1].is_ascii_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic())
        {
            out.push(' ');
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Decodes the HTML entities that web forms and feeds leave in text ("&lt;3", "&amp;").
fn unescape_html(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('&') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// Removes @mentions and URLs, which name things rather than judge them.
fn strip_handles_and_links(text: &str) -> std::borrow::Cow<'_, str> {
    let is_noise = |w: &str| {
        (w.starts_with('@') && w.len() > 1)
            || w.starts_with("http://")
            || w.starts_with("https://")
            || w.starts_with("www.")
    };
    if !text.split_whitespace().any(is_noise) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, w) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if !is_noise(w) {
            out.push_str(w);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// VADER's normalisation of a raw valence sum into [-1, 1].
fn normalize(raw: f64) -> f64 {
    (raw / (raw * raw + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// The inverse of [`normalize`].
fn denormalize(compound: f64) -> f64 {
    let c = compound.clamp(-0.9999, 0.9999);
    c * (ALPHA / (1.0 - c * c)).sqrt()
}

/// Splits a message into sentences, keeping each sentence's own end punctuation so that
/// VADER's "!!!" emphasis still applies, and negation never reaches into the next sentence.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if matches!(b, b'.' | b'!' | b'?' | b'\n' | b';') {
                while i < bytes.len() && matches!(bytes[i], b'.' | b'!' | b'?' | b'\n' | b';') {
                    i += 1;
                }
                // "v2.0" and "e.g." are not sentence ends: require a space or the end.
                if i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    continue;
                }
                // "order no. 4455": "no." abbreviates "number".
                if abbreviates_number(&bytes[start..i], &bytes[i..]) {
                    continue;
                }
                let s = &text[start..i];
                start = i;
                if s.trim().is_empty() {
                    continue;
                }
                return Some(s);
            }
        }
        if start < bytes.len() {
            let s = &text[start..];
            start = bytes.len();
            if !s.trim().is_empty() {
                return Some(s);
            }
        }
        None
    })
}

/// Most words of three letters or more are in capitals, and there are at least two of them.
fn is_shouting(text: &str) -> bool {
    let (mut caps, mut total, mut long_caps) = (0usize, 0usize, false);
    // Codes and references ("UA80", "DKYDE6") are not words.
    for token in text.split_whitespace().filter(|t| !is_number_like(t)) {
        for w in token.split(|c: char| !c.is_alphabetic()) {
            let n = w.chars().count();
            if n < 3 {
                continue;
            }
            total += 1;
            if w.chars().all(char::is_uppercase) {
                caps += 1;
                long_caps |= n >= 4;
            }
        }
    }
    // Three-letter capitals alone are acronyms and codes ("SFO to LAX", "API", "CSV"):
    // shouting needs a word of four letters or more in capitals ("THIS IS BROKEN").
    caps >= 2 && caps * 2 >= total && long_caps
}

/// "!!", "??", "?!" and longer runs.
fn has_emphatic_punctuation(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if c == '!' || c == '?' {
            run += 1;
            if run >= 2 {
                return true;
            }
        } else if !c.is_whitespace() {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f64 {
        SentimentModel::new().read(text).score
    }

    #[test]
    fn no_problem_is_positive() {
        assert!(score("no problem at all, you guys rock") > 0.3);
    }

    #[test]
    fn negation_does_not_cross_sentences() {
        assert!(score("Never again. Worst service ever!!!") < -0.6);
    }

    #[test]
    fn support_complaints_are_negative() {
        for text in [
            "still not working",
            "this is the third time I ask",
            "unacceptable",
            "what a waste of time",
            "I've been on hold for 2 hours",
            "why is this not working???",
            "😡😡",
        ] {
            assert!(score(text) < -0.3, "{text}: {}", score(text));
        }
    }

    #[test]
    fn shouting_and_swearing_make_it_worse() {
        let calm = score("this is broken again");
        assert!(score("THIS IS BROKEN AGAIN") < calm);
        assert!(score("this fucking thing is broken again") < calm);
    }

    #[test]
    fn a_plain_request_for_help_is_not_praise() {
        assert!(score("please help, I can't log in").abs() < 0.5);
        assert!(score("Can you help me export my invoices?").abs() < 0.3);
    }

    #[test]
    fn thanks_that_worked_is_positive_progress() {
        let r = SentimentModel::new().read("thanks, that worked!");
        assert!(r.score > 0.5);
        assert_eq!(r.count(CueKind::Progress), 1);
    }

    #[test]
    fn a_plain_question_asks_rather_than_complains() {
        let question = score("Is my flight delayed?");
        let statement = score("My flight is delayed and nobody told me.");
        assert!(question > statement, "{question} vs {statement}");
        assert!(question.abs() < 0.3, "{question}");
        // A question that carries a strong complaint stays negative.
        assert!(score("why is this still not working?") < -0.3);
    }

    #[test]
    fn politeness_in_a_complaint_is_not_praise() {
        assert!(score("thanks for nothing") < -0.5);
        let s = score("Thanks, but I have been waiting for 3 hours and nobody called back.");
        assert!(s < -0.2, "{s}");
    }

    #[test]
    fn recounted_trouble_without_sentiment_words_is_negative() {
        for text in [
            "I was told someone would call me back. Nobody did.",
            "I have been trying since Monday to get a refund",
            "It would be nice if your app actually saved my changes",
            "you should hire better support staff",
        ] {
            assert!(score(text) < -0.2, "{text}: {}", score(text));
        }
    }

    #[test]
    fn emoji_praise_and_entities_are_read() {
        assert!(score("😭") < -0.3);
        assert!(score("got my refund 😍") > 0.3);
        assert!(score("stellar support, huge props to the team") > 0.5);
        assert!(score("you are the best &lt;3") > score("you are the best &lt;"));
    }

    #[test]
    fn the_calibration_fit_recovers_known_weights() {
        let model = SentimentModel::new();
        let mut truth = SentimentCalibration::prior();
        truth.weights[Feature::VaderPositive as usize] = 0.5;
        truth.weights[Feature::Negations as usize] = 1.5;
        truth.bias = -0.2;
        let examples: Vec<(SentimentFeatures, f64)> = [
            "great service, thank you",
            "I love this app",
            "this is good",
            "awful, I hate it",
            "I can't log in and I don't know why",
            "nothing works and nobody answers",
            "how do I export my invoices",
            "not bad at all",
            "the worst experience ever",
            "perfect, that solved it",
            "I didn't get the email",
            "it's fine",
        ]
        .iter()
        .map(|t| {
            let f = model.features(t);
            (f, truth.score(&f))
        })
        .collect();
        let fitted = SentimentCalibration::fit(
            &examples,
            FitOptions {
                l2: 0.0,
                steps: 4000,
                ..FitOptions::all_weights()
            },
        );
        for (f, target) in &examples {
            assert!((fitted.score(f) - target).abs() < 0.05);
        }
        // Without examples the fit is the prior; with the default options only the crate's
        // valences and the bias move.
        assert_eq!(
            SentimentCalibration::fit(&[], FitOptions::default()),
            SentimentCalibration::prior()
        );
        let general = SentimentCalibration::fit(&examples, FitOptions::default());
        assert_eq!(
            general.weights[Feature::Negations as usize],
            PRIOR_WEIGHTS[Feature::Negations as usize]
        );
    }

    #[test]
    fn scores_stay_in_range() {
        let model = SentimentModel::new();
        for text in [
            "",
            "???!!!",
            "NO NO NO NO THIS IS THE WORST FUCKING SERVICE EVER!!!! 😡😡😡🤬🤬",
            "love love love love love it!!! 😍😍😍❤❤❤ you guys rock",
        ] {
            let s = model.read(text).score;
            assert!((-1.0..=1.0).contains(&s), "{text}: {s}");
        }
    }

    #[test]
    fn hashtags_and_held_letters_are_read_as_words() {
        let m = SentimentModel::new();
        assert_eq!(m.expand_social("#NeverAgain"), "Never Again");
        assert_eq!(m.expand_social("#neveragain"), "never again");
        assert_eq!(m.expand_social("#epicfail"), "epic fail");
        assert_eq!(m.expand_social("sooo sloooow"), "so slow");
        assert_eq!(
            m.expand_social("flight #489 is fine"),
            "flight #489 is fine"
        );
        assert!(score("#worstserviceever") < -0.4);
        assert!(score("the app is sloooow today") < score("the app is fast today"));
        assert!(score("Greeeat support, thank you") > 0.5);
    }

    #[test]
    fn complaints_told_as_plain_facts_are_negative() {
        for text in [
            "my order was cancelled and no one called back",
            "you lost my luggage",
            "I missed my connection because of you",
            "it took forever to get a reply",
            "45 minute wait on the phone",
            "I have given up on this",
            "you really let me down",
            "I will take my business elsewhere",
        ] {
            assert!(score(text) < -0.2, "{text}: {}", score(text));
        }
    }

    #[test]
    fn praise_next_to_a_complaint_is_sarcasm() {
        for text in [
            "Yay, another delay",
            "great job losing my bag",
            "love how nobody answers the phone",
            "just what I needed, a 3 hour wait",
        ] {
            let r = SentimentModel::new().read(text);
            assert!(r.score < -0.3, "{text}: {}", r.score);
        }
        // Sincere praise for help with a problem stays positive.
        assert!(score("great job by the agent who found my lost bag, thank you!") > 0.3);
    }

    #[test]
    fn holds_losses_and_let_downs_are_complaints() {
        for text in [
            "100 minutes on hold so far",
            "I have been waiting all morning",
            "we were promised a call and got nothing",
            "the service was abysmal",
            "you just lost a loyal customer",
            "this is the last time I book with you",
            "you need to hire more staff",
            "I expected better from you",
            "is this how you treat your customers?",
            "what will you do to make this right",
            "waiting an hour now for an agent",
            "called ten times and haven't gotten through",
            "I am running out of patience",
            "you owe me a refund for the cancelled trip",
        ] {
            assert!(score(text) < -0.2, "{text}: {}", score(text));
        }
        // Going elsewhere is a weak cue on its own.
        assert!(score("I will use other companies from now on") < 0.0);
    }

    #[test]
    fn a_sentence_opening_with_but_outweighs_the_one_before() {
        assert!(opens_with_contrast(" But my bag is still missing."));
        assert!(!opens_with_contrast("Butter is fine"));
        let turned = score("The crew was great. But the delay was awful.");
        let listed = score("The crew was great. The delay was awful.");
        assert!(turned < listed, "{turned} vs {listed}");
    }

    #[test]
    fn hindsight_form_letters_and_wishes() {
        for text in [
            "it would have been nice to know before I paid",
            "thanks for the canned response",
            "you can do better than this",
            "great for new customers, existing ones not so much",
        ] {
            assert!(score(text) < -0.15, "{text}: {}", score(text));
        }
        // A wish is a request, not praise; "would be nice if" stays a complaint.
        assert!(score("an update on my order would be great").abs() < 0.3);
        assert!(score("it would be nice if the app saved my changes") < -0.15);
        for text in ["phenomenal service", "the agent went the extra mile"] {
            assert!(score(text) > 0.25, "{text}: {}", score(text));
        }
        // Plain wording keeps its sign but less strength (the intensity factor).
        assert!(score("she helped me") > 0.1, "{}", score("she helped me"));
    }

    #[test]
    fn words_in_a_sense_without_sentiment_are_neutral() {
        assert_eq!(
            neutral_senses("it looks like my order is stuck").as_deref(),
            Some("it looks my order is stuck")
        );
        assert_eq!(neutral_senses("I like the new app"), None);
        assert_eq!(
            neutral_senses("Yes, my credit card was charged").as_deref(),
            Some("my card was charged")
        );
        // "Looks like" adds no praise to a complaint.
        let (looks, plain) = (
            score("It looks like the app is down"),
            score("The app is down"),
        );
        assert!(looks < 0.0 && looks <= plain + 0.05, "{looks} vs {plain}");
        assert!(score("I would like to change my booking").abs() < 0.3);
        assert!(score("ok, my order number is 1234").abs() < 0.1);
        assert!(score("I called customer care") <= 0.0);
        assert!(score("I'm not sure how to change my seat").abs() < 0.2);
        assert!(score("Well, I booked it last week").abs() < 0.1);
        assert!(score("I like it, it works well") > 0.5);
    }

    #[test]
    fn a_short_thanks_is_positive() {
        for text in [
            "thank you",
            "Thanks!",
            "thx for the update",
            "thank you so much",
        ] {
            assert!(score(text) > 0.5, "{text}: {}", score(text));
        }
        assert!(score("thanks, but it still doesn't work") < 0.0);
    }

    #[test]
    fn sentences_keep_their_punctuation() {
        let s: Vec<&str> = sentences("Never again. Worst ever!!! v2.0 is out").collect();
        assert_eq!(s, vec!["Never again.", " Worst ever!!!", " v2.0 is out"]);
        let s: Vec<&str> = sentences("Order no. 4455 is late. No. 12 is fine").collect();
        assert_eq!(s, vec!["Order no. 4455 is late.", " No. 12 is fine"]);
    }

    #[test]
    fn codes_and_acronyms_are_not_shouting() {
        assert!(!is_shouting("how about 3659 YUL-ORD?"));
        assert!(!is_shouting("flying SFO to LAX tomorrow, booking DKYDE6"));
        assert!(!is_shouting("the API returns a CSV"));
        assert!(is_shouting("THIS IS BROKEN AGAIN"));
        assert!(is_shouting("WHY IS MY ORDER STILL NOT HERE"));
        let (code, plain) = (
            score("can I change flight 80 SFO-LAX to tomorrow?"),
            score("can I change flight 80 to tomorrow?"),
        );
        assert!((code - plain).abs() < 0.05, "{code} vs {plain}");
    }

    #[test]
    fn no_before_a_number_means_number() {
        let s = score("what time does check-in open for flight no 80 today?");
        assert!(s > -0.05, "{s}");
        let f = SentimentModel::new().features("order no. 4455 arrived");
        assert_eq!(f.values[Feature::Negations as usize], 0.0);
        assert_eq!(f.values[Feature::VaderNegative as usize], 0.0);
        // "no" as a word still counts.
        assert!(score("no reply, no refund") < -0.3);
    }

    #[test]
    fn matter_of_fact_wording_leans_neutral() {
        let model = SentimentModel::new();
        let plain = model.features("what time does check-in open for flight 80 tomorrow?");
        let judging = model.features("absolutely awful, the worst service I have ever had");
        assert!(plain.intensity < 1.0, "{}", plain.intensity);
        assert!(judging.intensity > 1.0, "{}", judging.intensity);
        assert!(plain.intensity > 0.0);
        // The factor scales the strength, never the sign.
        for text in [
            "I can't find the invoice for order 4455",
            "great, thank you so much",
        ] {
            let f = model.features(text);
            let unscaled = SentimentFeatures {
                intensity: 1.0,
                ..f
            };
            let cal = model.calibration();
            assert_eq!(
                cal.score(&f).signum(),
                cal.score(&unscaled).signum(),
                "{text}"
            );
        }
    }
}
