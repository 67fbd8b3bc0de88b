"""Pure generation of the demo data set with numpy: parallel arrays and lists, no database.

Dates are kept as day offsets from `today` (negative: past) and timestamps as seconds from the
anchor (midnight of `today`, Moscow time), so the writer can turn each distinct value into a
database value once; NO_DATE / NO_TIME stand for NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import numpy as np

from bot.domain import ClientType as T
from bot.domain import (
    ComplaintCategory,
    ComplaintStatus,
    InteractionKind,
    Outcome,
    Role,
    Severity,
)
from bot.seed import names as N
from bot.seed import texts

DEMO_MANAGER_TELEGRAM_ID = 700001
DEMO_SUPERVISOR_TELEGRAM_ID = 700002
DEMO_ADMIN_TELEGRAM_ID = 700003
SECOND_SUPERVISOR_TELEGRAM_ID = 700004
FIRST_MANAGER_TELEGRAM_ID = 700101  # the other managers: 700101, 700102, …

TEAMS = ("Москва", "Санкт-Петербург")
MIN_CLIENTS = 50  # every archetype, the odd names and the demo manager's 25–40 clients must fit
MAX_CLIENTS = 1_000_000
CLIENTS_PER_MANAGER = 150
MIN_MANAGERS, MAX_MANAGERS = 4, 700
HISTORY_DAYS = 730

NO_DATE = np.iinfo(np.int32).min
NO_TIME = np.iinfo(np.int64).min
DAY = 86_400
HOUR = 3_600
# Moscow has been UTC+3 all year since 2014; a fixed offset keeps generation free of tzdata.
MOSCOW = timezone(timedelta(hours=3))

ARCHETYPES: tuple[T, ...] = tuple(T)
KINDS: tuple[InteractionKind, ...] = tuple(InteractionKind)
OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
CATEGORIES: tuple[ComplaintCategory, ...] = tuple(ComplaintCategory)
SEVERITIES: tuple[Severity, ...] = tuple(Severity)
STATUSES: tuple[ComplaintStatus, ...] = tuple(ComplaintStatus)
SLA_HOURS = np.array([120, 72, 48, 24])  # by SEVERITIES: low, medium, high, critical

PHONE_PREFIXES = np.array(
    [901, 903, 905, 906, 909, 910, 911, 912, 913, 915, 916, 917, 918, 919, 920, 921, 925, 926,
     927, 929, 950, 951, 952, 953, 960, 961, 962, 964, 965, 967, 968, 977, 985, 987, 999]
)  # fmt: skip
INN_REGIONS = np.array([77, 77, 77, 78, 78, 50, 47, 66, 54, 16, 52, 63, 23, 61, 2])
_INN10_WEIGHTS = np.array([2, 4, 10, 3, 5, 9, 4, 6, 8])
_INN11_WEIGHTS = np.array([7, 2, 4, 10, 3, 5, 9, 4, 6, 8])
_INN12_WEIGHTS = np.array([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8])

# Client kinds decide the name, tax id and e-mail style.
PERSON, IP, OOO, AO, LATIN_PERSON, LATIN_COMPANY = range(6)
_KIND_CODES = {
    "person": PERSON,
    "ip": IP,
    "ooo": OOO,
    "ao": AO,
    "latin_person": LATIN_PERSON,
    "latin_company": LATIN_COMPANY,
}
_LEGAL = (OOO, AO, LATIN_COMPANY)


class SeedError(ValueError):
    """A demo data set that cannot be generated or loaded; the message is for the user."""


@dataclass(frozen=True)
class _Profile:
    """How one archetype behaves; ranges are drawn uniformly per client."""

    share: float
    steady: bool  # evenly spaced purchases (else random timing)
    gap: tuple[float, float]  # days between purchases, steady only
    first: tuple[int, int]  # days ago of the first purchase
    last: tuple[int, int]  # days ago of the latest purchase, random timing only
    sales: tuple[int, float]  # random timing: minimum count + Poisson mean on top
    amount: float  # median sale, roubles
    client_sigma: float  # spread of the median between clients (log scale)
    sale_sigma: float  # spread of one client's sales (log scale)
    discount: tuple[float, float]  # share of sales on discount
    margin: tuple[float, float]  # margin as a share of the amount
    interactions: float  # mean count, at least one
    complaints: float  # mean count


PROFILES: dict[T, _Profile] = {
    T.POTENTIAL: _Profile(
        share=0.08, steady=False, gap=(0, 0), first=(0, 0), last=(0, 0), sales=(0, 0),
        amount=0, client_sigma=0, sale_sigma=0, discount=(0, 0), margin=(0, 0),
        interactions=3.0, complaints=0.01,
    ),
    T.REGULAR: _Profile(
        share=0.25, steady=True, gap=(24, 44), first=(200, 730), last=(0, 0), sales=(0, 0),
        amount=35_000, client_sigma=0.5, sale_sigma=0.25, discount=(0.05, 0.12),
        margin=(0.12, 0.32), interactions=3.0, complaints=0.06,
    ),
    T.BEST: _Profile(
        share=0.07, steady=True, gap=(9, 22), first=(365, 730), last=(0, 0), sales=(0, 0),
        amount=120_000, client_sigma=0.35, sale_sigma=0.3, discount=(0.02, 0.08),
        margin=(0.18, 0.35), interactions=5.0, complaints=0.08,
    ),
    T.SHOPPER: _Profile(
        share=0.15, steady=False, gap=(0, 0), first=(90, 730), last=(0, 180), sales=(2, 2.0),
        amount=8_000, client_sigma=0.6, sale_sigma=0.4, discount=(0.7, 0.95),
        margin=(0.10, 0.25), interactions=1.6, complaints=0.10,
    ),
    T.ADVOCATE: _Profile(
        share=0.05, steady=True, gap=(30, 60), first=(450, 730), last=(0, 0), sales=(0, 0),
        amount=45_000, client_sigma=0.5, sale_sigma=0.25, discount=(0.05, 0.15),
        margin=(0.12, 0.32), interactions=4.0, complaints=0.04,
    ),
    T.AVERAGE: _Profile(
        share=0.35, steady=False, gap=(0, 0), first=(120, 730), last=(0, 120), sales=(3, 4.0),
        amount=18_000, client_sigma=0.7, sale_sigma=0.4, discount=(0.1, 0.3),
        margin=(0.10, 0.30), interactions=2.6, complaints=0.10,
    ),
    T.WORST: _Profile(
        share=0.05, steady=False, gap=(0, 0), first=(180, 730), last=(0, 150), sales=(3, 4.0),
        amount=20_000, client_sigma=0.7, sale_sigma=0.5, discount=(0.2, 0.4),
        margin=(0.0, 0.12), interactions=4.5, complaints=0.0,
    ),
}  # fmt: skip
WORST_COMPLAINTS = (2, 2.5)  # minimum + Poisson mean: complaints concentrate in the worst
SLIPPING_SHARE = 0.10
# How many of each archetype the demo manager is sure to own, so the demo chat shows them all.
DEMO_PICKS = {
    T.POTENTIAL: 2, T.REGULAR: 4, T.BEST: 2, T.SHOPPER: 2, T.ADVOCATE: 2, T.AVERAGE: 3, T.WORST: 2,
}  # fmt: skip
DEMO_SLIPPING = {T.REGULAR: 2, T.BEST: 1}


@dataclass(frozen=True)
class StaffSpec:
    """One staff member to create."""

    telegram_id: int
    name: str
    role: Role
    team: str | None
    language: str
    timezone: str
    alert_time: time | None


@dataclass
class Clients:
    """One row per client; `owner` indexes Dataset.staff, `referred_by` these rows (-1: none)."""

    archetype: np.ndarray  # index into ARCHETYPES; generation-side only, never stored
    slipping: np.ndarray
    kind: np.ndarray
    name: list[str]
    phone: list[str]
    email: list[str | None]
    tax_id: list[str | None]
    external_id: list[str]
    owner: np.ndarray
    tags: list[list[str]]
    referred_by: np.ndarray
    archived: np.ndarray
    created: np.ndarray  # seconds from the anchor

    def __len__(self) -> int:
        return len(self.name)


@dataclass
class Sales:
    """One row per sale (refunds are negative amounts), ordered by client and date."""

    client: np.ndarray
    day: np.ndarray
    amount: np.ndarray  # kopecks
    margin: np.ndarray  # kopecks
    discount: np.ndarray
    invoice_due: np.ndarray
    paid: np.ndarray

    def __len__(self) -> int:
        return len(self.client)


@dataclass
class Interactions:
    """One row per interaction, ordered by client and time."""

    client: np.ndarray
    staff: np.ndarray
    kind: np.ndarray  # index into KINDS
    outcome: np.ndarray  # index into OUTCOMES, -1: none
    text: list[str]
    occurred: np.ndarray
    next_step: list[str | None]
    next_step_due: np.ndarray
    done: np.ndarray

    def __len__(self) -> int:
        return len(self.client)


@dataclass
class Complaints:
    """One row per complaint, ordered by client and time."""

    client: np.ndarray
    staff: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    severity: np.ndarray  # index into SEVERITIES
    status: np.ndarray  # index into STATUSES
    text: list[str]
    created: np.ndarray
    due: np.ndarray
    resolution: list[str | None]
    resolved: np.ndarray
    satisfaction: np.ndarray  # 0: none
    escalated: np.ndarray

    def __len__(self) -> int:
        return len(self.client)


@dataclass
class Dataset:
    """Everything seed-demo writes, relative to `today` and `anchor`."""

    today: date
    anchor: datetime  # midnight of `today` in Moscow, as an aware UTC datetime
    staff: list[StaffSpec]
    demo_manager: int  # index into staff
    clients: Clients
    sales: Sales
    interactions: Interactions
    complaints: Complaints


def check_arguments(clients: int, seed: int) -> None:
    """Refuse sizes and seeds that cannot make a sensible demo, before any work is done."""
    if not MIN_CLIENTS <= clients <= MAX_CLIENTS:
        raise SeedError(
            f"the demo needs between {MIN_CLIENTS:,} and {MAX_CLIENTS:,} clients, got {clients:,}"
        )
    if seed < 0:
        raise SeedError(f"the seed must be zero or positive, got {seed}")


def manager_count(clients: int) -> int:
    """Managers for a client base: about one per 150 clients, within 4…700."""
    return int(np.clip(round(clients / CLIENTS_PER_MANAGER), MIN_MANAGERS, MAX_MANAGERS))


def generate(clients: int, seed: int, today: date) -> Dataset:
    """The whole demo data set; the same (clients, seed, today) always gives the same data."""
    check_arguments(clients, seed)
    rng = np.random.default_rng(seed)
    anchor = datetime.combine(today, time(0), tzinfo=MOSCOW).astimezone(UTC)
    staff = _staff(rng, manager_count(clients))
    demo_manager = next(i for i, s in enumerate(staff) if s.telegram_id == DEMO_MANAGER_TELEGRAM_ID)
    plan = _plan(rng, clients, staff, demo_manager)
    sales = _sales(rng, plan)
    interactions = _interactions(rng, plan)
    complaints = _complaints(rng, plan)
    # A client exists before anything happens with them.
    earliest = np.full(clients, 0, dtype=np.int64)
    np.minimum.at(earliest, interactions.client, interactions.occurred - HOUR)
    np.minimum.at(earliest, complaints.client, complaints.created - HOUR)
    np.minimum.at(earliest, sales.client, (sales.day.astype(np.int64) - 1) * DAY + 12 * HOUR)
    created = np.minimum(plan.created, earliest)
    client_rows = _client_rows(rng, plan, staff, created)
    return Dataset(today, anchor, staff, demo_manager, client_rows, sales, interactions, complaints)


# --- staff ---------------------------------------------------------------------------------------


def _staff(rng: np.random.Generator, managers: int) -> list[StaffSpec]:
    fixed = {
        DEMO_ADMIN_TELEGRAM_ID: "Елена Кузнецова",
        DEMO_SUPERVISOR_TELEGRAM_ID: "Игорь Волков",
        SECOND_SUPERVISOR_TELEGRAM_ID: "Марина Лебедева",
        DEMO_MANAGER_TELEGRAM_ID: "Анна Смирнова",
    }
    moscow = "Europe/Moscow"
    leads = [
        (DEMO_ADMIN_TELEGRAM_ID, Role.ADMIN, None),
        (DEMO_SUPERVISOR_TELEGRAM_ID, Role.SUPERVISOR, TEAMS[0]),
        (SECOND_SUPERVISOR_TELEGRAM_ID, Role.SUPERVISOR, TEAMS[1]),
        (DEMO_MANAGER_TELEGRAM_ID, Role.MANAGER, TEAMS[0]),
    ]
    staff = [StaffSpec(t, fixed[t], role, team, "ru", moscow, None) for t, role, team in leads]
    others = managers - 1
    names = _staff_names(rng, others, taken=set(fixed.values()))
    # About 55/45 between the teams, counting the demo manager, and never an empty team.
    second_team = max(1, round(0.45 * managers))
    team = rng.permutation(np.repeat([0, 1], [others - second_team, second_team]))
    english = rng.random(others) < 0.12
    zone = rng.choice(3, size=others, p=[0.8, 0.1, 0.1])
    zones = (moscow, "Asia/Yekaterinburg", "Asia/Novosibirsk")
    alert = rng.choice(5, size=others, p=[0.7, 0.075, 0.075, 0.075, 0.075])
    alerts = (None, time(8, 0), time(8, 30), time(9, 30), time(10, 0))
    for i in range(others):
        staff.append(
            StaffSpec(
                telegram_id=FIRST_MANAGER_TELEGRAM_ID + i,
                name=names[i],
                role=Role.MANAGER,
                team=TEAMS[team[i]],
                language="en" if english[i] else "ru",
                timezone=zones[zone[i]],
                alert_time=alerts[alert[i]],
            )
        )
    return staff


def _staff_names(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """Distinct "Имя Фамилия" names (staff are told apart by name in lists)."""
    surnames = len(N.MALE_SURNAMES)
    male = len(N.MALE_FIRST) * surnames
    space = male + len(N.FEMALE_FIRST) * surnames
    result: list[str] = []
    for combo in rng.permutation(space).tolist():
        if combo < male:
            first, surname = N.MALE_FIRST[combo // surnames], N.MALE_SURNAMES[combo % surnames]
        else:
            combo -= male
            first = N.FEMALE_FIRST[combo // surnames]
            surname = N.female_surname(N.MALE_SURNAMES[combo % surnames])
        name = f"{first} {surname}"
        if name not in taken:
            result.append(name)
            if len(result) == count:
                break
    return result


# --- the per-client plan ------------------------------------------------------------------------


@dataclass
class _Plan:
    """Per-client behaviour drawn before any rows exist."""

    archetype: np.ndarray
    slipping: np.ndarray
    kind: np.ndarray
    owner: np.ndarray
    demo: np.ndarray  # owned by the demo manager
    demo_picks: dict[T, np.ndarray]
    awkward: np.ndarray  # client rows that get AWKWARD_NAMES, in order
    referred_by: np.ndarray
    archived: np.ndarray
    created: np.ndarray  # seconds from the anchor, before the clamp to their first activity
    first: np.ndarray  # days ago
    last: np.ndarray
    gap: np.ndarray
    steady: np.ndarray
    n_sales: np.ndarray
    amount: np.ndarray  # the client's median sale, roubles
    sale_sigma: np.ndarray
    discount: np.ndarray
    margin_lo: np.ndarray
    margin_hi: np.ndarray
    term: np.ndarray  # payment term, days


def _exact_counts(total: int, shares: np.ndarray) -> np.ndarray:
    """Split `total` by `shares` exactly (largest remainder), so small sets keep the proportions."""
    raw = shares / shares.sum() * total
    counts = np.floor(raw).astype(np.int64)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def _plan(rng: np.random.Generator, n: int, staff: list[StaffSpec], demo_manager: int) -> _Plan:
    shares = np.array([PROFILES[t].share for t in ARCHETYPES])
    archetype = np.repeat(np.arange(len(ARCHETYPES)), _exact_counts(n, shares))
    rng.shuffle(archetype)
    code = {t: i for i, t in enumerate(ARCHETYPES)}

    # The demo manager: a few of every archetype, one odd name, and a random fill to 25–40.
    demo = np.zeros(n, dtype=bool)
    demo_picks: dict[T, np.ndarray] = {}
    for t, wanted in DEMO_PICKS.items():
        members = np.flatnonzero(archetype == code[t])
        demo_picks[t] = rng.choice(members, size=min(wanted, len(members)), replace=False)
        demo[demo_picks[t]] = True
    awkward = rng.choice(np.flatnonzero(~demo), size=len(N.AWKWARD_NAMES), replace=False)
    demo[awkward[0]] = True
    target = min(int(rng.integers(25, 41)), n // 2)
    fill = max(target - int(demo.sum()), 0)
    candidates = np.flatnonzero(~demo)
    candidates = candidates[~np.isin(candidates, awkward)]
    demo[rng.choice(candidates, size=fill, replace=False)] = True

    managers = np.array(
        [i for i, s in enumerate(staff) if s.role is Role.MANAGER and i != demo_manager]
    )
    owner = managers[rng.integers(0, len(managers), size=n)]
    owner[demo] = demo_manager

    regular_or_best = np.isin(archetype, [code[T.REGULAR], code[T.BEST]])
    slipping = regular_or_best & (rng.random(n) < SLIPPING_SHARE)
    for t, count in DEMO_SLIPPING.items():
        slipping[demo_picks[t][:count]] = True

    kind = _kinds(rng, archetype, code)
    for row, (_, kind_name) in zip(awkward.tolist(), N.AWKWARD_NAMES, strict=True):
        kind[row] = _KIND_CODES[kind_name]

    first = np.zeros(n, dtype=np.float64)
    last = np.zeros(n, dtype=np.float64)
    gap = np.ones(n, dtype=np.float64)
    steady = np.zeros(n, dtype=bool)
    n_sales = np.zeros(n, dtype=np.int64)
    amount = np.zeros(n, dtype=np.float64)
    sale_sigma = np.zeros(n, dtype=np.float64)
    discount = np.zeros(n, dtype=np.float64)
    margin_lo = np.zeros(n, dtype=np.float64)
    margin_hi = np.zeros(n, dtype=np.float64)
    for t, p in PROFILES.items():
        mask = archetype == code[t]
        size = int(mask.sum())
        if t is T.POTENTIAL or size == 0:
            continue
        first[mask] = rng.integers(p.first[0], p.first[1] + 1, size=size)
        amount[mask] = p.amount * rng.lognormal(0.0, p.client_sigma, size=size)
        sale_sigma[mask] = p.sale_sigma
        discount[mask] = rng.uniform(*p.discount, size=size)
        margin_lo[mask], margin_hi[mask] = p.margin
        if p.steady:
            steady[mask] = True
            gap[mask] = rng.uniform(*p.gap, size=size)
            last[mask] = rng.random(size) * gap[mask]
        else:
            last[mask] = np.minimum(rng.uniform(*p.last, size=size), first[mask] - 30)
            n_sales[mask] = p.sales[0] + rng.poisson(p.sales[1], size=size)
    # Slipping away: a steady history, then silence for 2–5 of their usual gaps.
    last[slipping] = gap[slipping] * rng.uniform(2.0, 5.0, size=int(slipping.sum()))
    first[slipping] = np.minimum(
        np.maximum(first[slipping], last[slipping] + 6 * gap[slipping]), HISTORY_DAYS - 1
    )
    n_sales[steady] = np.floor((first[steady] - last[steady]) / gap[steady]).astype(np.int64) + 1

    legal = np.isin(kind, _LEGAL)
    term = np.where(rng.random(n) < np.where(legal, 0.7, 0.2), 30, 14)

    # Clients are registered a little before their first purchase; leads mostly recently.
    created_days = first + rng.integers(0, 61, size=n)
    potential = archetype == code[T.POTENTIAL]
    created_days[potential] = np.minimum(1 + rng.exponential(60, size=int(potential.sum())), 365)
    created = -np.rint(created_days).astype(np.int64) * DAY + rng.integers(
        9 * HOUR, 19 * HOUR, size=n
    )

    referred_by = _referrals(rng, archetype, code, created_days)
    archived = _archived(rng, archetype, code, last, created_days, demo)
    return _Plan(
        archetype=archetype.astype(np.int8),
        slipping=slipping,
        kind=kind,
        owner=owner,
        demo=demo,
        demo_picks=demo_picks,
        awkward=awkward,
        referred_by=referred_by,
        archived=archived,
        created=created,
        first=first,
        last=last,
        gap=gap,
        steady=steady,
        n_sales=n_sales,
        amount=amount,
        sale_sigma=sale_sigma,
        discount=discount,
        margin_lo=margin_lo,
        margin_hi=margin_hi,
        term=term,
    )


def _kinds(rng: np.random.Generator, archetype: np.ndarray, code: dict[T, int]) -> np.ndarray:
    """Person, ИП, ООО, АО or Latin; the best are mostly companies, shoppers mostly people."""
    default = [0.42, 0.12, 0.33, 0.05, 0.03, 0.05]
    by_type = {
        T.BEST: [0.15, 0.10, 0.55, 0.12, 0.02, 0.06],
        T.SHOPPER: [0.70, 0.10, 0.12, 0.01, 0.05, 0.02],
    }
    kind = np.zeros(len(archetype), dtype=np.int8)
    for t in ARCHETYPES:
        mask = archetype == code[t]
        kind[mask] = rng.choice(6, size=int(mask.sum()), p=by_type.get(t, default))
    return kind


def _referrals(
    rng: np.random.Generator, archetype: np.ndarray, code: dict[T, int], created_days: np.ndarray
) -> np.ndarray:
    """Each advocate brought 1–4 clients who joined after them."""
    n = len(archetype)
    referred_by = np.full(n, -1, dtype=np.int64)
    advocates = np.flatnonzero(archetype == code[T.ADVOCATE])
    brought = rng.integers(1, 5, size=len(advocates))
    # Advocates joined 450+ days ago, so anyone newer than that can be one of their referrals.
    pool = np.flatnonzero(
        (archetype != code[T.ADVOCATE]) & (created_days < PROFILES[T.ADVOCATE].first[0])
    )
    cumulative = np.cumsum(brought)
    keep = cumulative <= len(pool)
    advocates, brought = advocates[keep], brought[keep]
    referred = rng.choice(pool, size=int(brought.sum()), replace=False)
    referred_by[referred] = np.repeat(advocates, brought)
    return referred_by


def _archived(
    rng: np.random.Generator,
    archetype: np.ndarray,
    code: dict[T, int],
    last: np.ndarray,
    created_days: np.ndarray,
    demo: np.ndarray,
) -> np.ndarray:
    """A few clients were let go: some worst, long-lapsed average clients, dead leads."""
    u = rng.random(len(archetype))
    archived = (archetype == code[T.WORST]) & (u < 0.2)
    archived |= (archetype == code[T.AVERAGE]) & (last > 90) & (u < 0.05)
    archived |= (archetype == code[T.POTENTIAL]) & (created_days > 120) & (u < 0.05)
    # The demo manager's list shows every archetype working, not archived.
    return archived & ~demo


# --- sales ---------------------------------------------------------------------------------------


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows laid out client after client: each row's client and its position in the run."""
    client = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return client, np.arange(len(client)) - starts[client]


def _sales(rng: np.random.Generator, plan: _Plan) -> Sales:
    worst_code = ARCHETYPES.index(T.WORST)
    client, pos = _segments(plan.n_sales)
    total = len(client)
    count = plan.n_sales[client]
    back = count - 1 - pos  # 0 for the latest purchase
    gap, last, first = plan.gap[client], plan.last[client], plan.first[client]
    # Steady buyers: evenly spaced back from the latest purchase, with some jitter.
    steady_ago = last + back * gap + np.where(back == 0, 0.0, rng.uniform(-0.25, 0.25, total) * gap)
    # The rest: anywhere between their first and latest purchase, those two pinned.
    random_ago = last + rng.random(total) * (first - last)
    random_ago = np.where(back == 0, last, np.where((pos == 0) & (count > 1), first, random_ago))
    ago = np.where(plan.steady[client], steady_ago, random_ago)
    day = -np.clip(np.rint(ago), 0, HISTORY_DAYS - 1).astype(np.int32)

    roubles = plan.amount[client] * rng.lognormal(0.0, plan.sale_sigma[client])
    roubles = np.clip(roubles, 1_000, 500_000)
    # Most invoices are in whole tens of roubles; the rest carry kopecks.
    amount = np.where(
        rng.random(total) < 0.6,
        np.rint(roubles / 10).astype(np.int64) * 1_000,
        np.rint(roubles * 100).astype(np.int64),
    )
    discount = rng.random(total) < plan.discount[client]
    share = rng.uniform(plan.margin_lo[client], plan.margin_hi[client])
    share = np.where(discount, np.maximum(share - rng.uniform(0.03, 0.08, total), 0.02), share)
    worst = plan.archetype[client] == worst_code
    losing = worst & (rng.random(total) < 0.4)
    share = np.where(losing, rng.uniform(-0.40, -0.05, total), share)
    margin = np.rint(amount * share).astype(np.int64)

    term = plan.term[client]
    invoice_due = (day + term).astype(np.int32)
    u = rng.random(total)
    on_time = day + np.floor(rng.random(total) * (term + 1)).astype(np.int32)
    late = day + term + rng.integers(1, 11, size=total)
    very_late = day + term + rng.integers(11, 46, size=total)
    paid = np.where(u < 0.88, on_time, np.where(u < 0.995, late, very_late))
    # The worst pay late or not at all, their very first invoice included.
    worst_late = day + term + rng.integers(10, 91, size=total)
    worst_paid = np.where(u < 0.4, on_time, np.where(u < 0.7, worst_late, NO_DATE))
    worst_paid = np.where(pos == 0, NO_DATE, worst_paid)
    paid = np.where(worst, worst_paid, paid).astype(np.int32)
    paid[paid > 0] = NO_DATE  # not paid yet

    sales = Sales(client, day, amount, margin, discount, invoice_due, paid)
    return _sorted_sales(_with_refunds(rng, plan, sales, worst_code))


def _with_refunds(rng: np.random.Generator, plan: _Plan, sales: Sales, worst_code: int) -> Sales:
    """Worst clients return goods: 1–2 negative sales after one of their purchases."""
    worst = np.flatnonzero((plan.archetype == worst_code) & (plan.n_sales > 0))
    refunds = rng.integers(1, 3, size=len(worst))
    owner = np.repeat(worst, refunds)
    starts = np.cumsum(plan.n_sales) - plan.n_sales
    source = starts[owner] + np.floor(rng.random(len(owner)) * plan.n_sales[owner]).astype(np.int64)
    day = np.minimum(sales.day[source] + rng.integers(3, 21, size=len(owner)), 0).astype(np.int32)
    amount = (
        -np.rint(sales.amount[source] * rng.uniform(0.3, 1.0, len(owner)) / 100).astype(np.int64)
        * 100
    )
    margin = np.rint(amount * rng.uniform(0.1, 0.3, len(owner))).astype(np.int64)
    return Sales(
        client=np.concatenate([sales.client, owner]),
        day=np.concatenate([sales.day, day]),
        amount=np.concatenate([sales.amount, amount]),
        margin=np.concatenate([sales.margin, margin]),
        discount=np.concatenate([sales.discount, np.zeros(len(owner), dtype=bool)]),
        invoice_due=np.concatenate(
            [sales.invoice_due, np.full(len(owner), NO_DATE, dtype=np.int32)]
        ),
        paid=np.concatenate([sales.paid, day]),
    )


def _sorted_sales(sales: Sales) -> Sales:
    # Client-then-date order keeps the (client_id, date) index append-only while loading.
    order = np.lexsort((sales.day, sales.client))
    return Sales(
        *(
            getattr(sales, f)[order]
            for f in ("client", "day", "amount", "margin", "discount", "invoice_due", "paid")
        )
    )


# --- interactions --------------------------------------------------------------------------------


def _interactions(rng: np.random.Generator, plan: _Plan) -> Interactions:
    n = len(plan.archetype)
    code = {t: i for i, t in enumerate(ARCHETYPES)}
    mean = np.array([PROFILES[t].interactions for t in ARCHETYPES])[plan.archetype]
    counts = 1 + rng.poisson(mean - 1)
    client, _ = _segments(counts)
    total = len(client)
    created_days = np.maximum(-plan.created // DAY, 1)
    span = np.clip(created_days - 1, 1, 400)[client]
    # Days ago, denser towards today: people log more about recent work.
    ago = 1 + np.floor(span * rng.random(total) ** 1.6).astype(np.int64)

    # One open next step per client, on their latest interaction: overdue, due today or ahead.
    step_p = np.where(np.isin(plan.archetype, [code[T.POTENTIAL], code[T.WORST]]), 0.65, 0.35)
    step_p = np.where(plan.demo, 0.8, np.where(plan.archived, 0.0, step_p))
    has_step = rng.random(n) < step_p
    due = np.where(
        rng.random(n) < 0.30,
        -rng.integers(1, 15, size=n),
        np.where(rng.random(n) < 0.25, 0, rng.integers(1, 22, size=n)),
    )
    demo_steps = np.flatnonzero(plan.demo & has_step)
    for offset, rows in ((-3, demo_steps[:2]), (0, demo_steps[2:4]), (5, demo_steps[4:7])):
        due[rows] = offset
    latest = np.cumsum(counts) - 1
    open_rows = latest[has_step]
    ago[open_rows] = np.maximum(1, -due[has_step]) + rng.integers(0, 6, size=len(open_rows))
    # …and that interaction stays the latest one: the client's other touches come before it.
    open_ago = np.zeros(n, dtype=np.int64)
    open_ago[has_step] = ago[open_rows]
    older = np.ones(total, dtype=bool)
    older[open_rows] = False
    ago = np.where(older & has_step[client], np.maximum(ago, open_ago[client] + 1), ago)

    kind = rng.choice(len(KINDS), size=total, p=[0.38, 0.15, 0.20, 0.10, 0.05, 0.12])
    outcome = _outcomes(rng, kind, plan.archetype[client] == code[T.WORST])
    text = _pick_texts(rng, kind, outcome)
    minute = rng.integers(9 * 60, 19 * 60, size=total)
    occurred = -ago * DAY + minute * 60  # whole minutes, as people log them

    next_step: np.ndarray = np.full(total, None, dtype=object)
    next_step_due = np.full(total, NO_DATE, dtype=np.int32)
    done = np.full(total, NO_TIME, dtype=np.int64)
    steps = np.array(texts.NEXT_STEPS, dtype=object)
    next_step[open_rows] = steps[rng.integers(0, len(steps), size=len(open_rows))]
    next_step_due[open_rows] = due[has_step]
    # Older interactions had next steps too, all done by now.
    step_in = rng.integers(1, 11, size=total)
    closed = older & (rng.random(total) < 0.15) & (ago - step_in >= 1)
    next_step[closed] = steps[rng.integers(0, len(steps), size=int(closed.sum()))]
    next_step_due[closed] = (-ago + step_in)[closed]
    done_day = -ago + np.floor(rng.random(total) * step_in).astype(np.int64) + 1
    done[closed] = (done_day * DAY + rng.integers(10 * HOUR, 18 * HOUR, size=total))[closed]

    order = np.lexsort((occurred, client))
    return Interactions(
        client=client[order],
        staff=plan.owner[client][order],
        kind=kind[order],
        outcome=outcome[order],
        text=[text[i] for i in order.tolist()],
        occurred=occurred[order],
        next_step=next_step[order].tolist(),
        next_step_due=next_step_due[order],
        done=done[order],
    )


def _outcomes(rng: np.random.Generator, kind: np.ndarray, worst: np.ndarray) -> np.ndarray:
    """Outcomes that fit the kind (nobody fails to answer a meeting); the worst go worse."""
    # Columns: positive, neutral, negative, no_answer.
    usual = {
        InteractionKind.CALL: [0.35, 0.25, 0.10, 0.30],
        InteractionKind.MEETING: [0.55, 0.35, 0.10, 0.0],
        InteractionKind.EMAIL: [0.30, 0.55, 0.05, 0.10],
        InteractionKind.MESSAGE: [0.30, 0.40, 0.05, 0.25],
        InteractionKind.VISIT: [0.55, 0.35, 0.10, 0.0],
    }
    bad = {
        InteractionKind.CALL: [0.10, 0.25, 0.35, 0.30],
        InteractionKind.MEETING: [0.20, 0.35, 0.45, 0.0],
        InteractionKind.EMAIL: [0.10, 0.45, 0.30, 0.15],
        InteractionKind.MESSAGE: [0.10, 0.30, 0.30, 0.30],
        InteractionKind.VISIT: [0.20, 0.35, 0.45, 0.0],
    }
    outcome = np.full(len(kind), -1, dtype=np.int8)
    for k, interaction_kind in enumerate(KINDS):
        if interaction_kind is InteractionKind.NOTE:
            continue
        for table, mask in ((usual, (kind == k) & ~worst), (bad, (kind == k) & worst)):
            outcome[mask] = rng.choice(
                len(OUTCOMES), size=int(mask.sum()), p=table[interaction_kind]
            )
    return outcome


def _pick_texts(rng: np.random.Generator, kind: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    text = np.empty(len(kind), dtype=object)
    for (interaction_kind, result), pool in texts.INTERACTION_TEXTS.items():
        wanted = -1 if result is None else OUTCOMES.index(result)
        mask = (kind == KINDS.index(interaction_kind)) & (outcome == wanted)
        choices = np.array(pool, dtype=object)
        text[mask] = choices[rng.integers(0, len(pool), size=int(mask.sum()))]
    return text


# --- complaints ----------------------------------------------------------------------------------


def _complaints(rng: np.random.Generator, plan: _Plan) -> Complaints:
    worst_code = ARCHETYPES.index(T.WORST)
    worst = plan.archetype == worst_code
    rate = np.array([PROFILES[t].complaints for t in ARCHETYPES])[plan.archetype]
    counts = rng.poisson(rate)
    counts[worst] = WORST_COMPLAINTS[0] + rng.poisson(WORST_COMPLAINTS[1], size=int(worst.sum()))
    client, _ = _segments(counts)
    total = len(client)
    is_worst = worst[client]

    created_days = np.maximum(-plan.created // DAY, 2)
    horizon = np.where(
        is_worst, np.minimum(created_days[client], 540), np.minimum(created_days[client], 365)
    )
    ago = 1 + np.floor(rng.random(total) * (horizon - 1)).astype(np.int64)
    # A fifth are fresh, so there is always something open.
    recent = rng.random(total) < 0.2
    ago[recent] = rng.integers(1, 11, size=int(recent.sum()))
    created = -ago * DAY + rng.integers(9 * HOUR, 19 * HOUR, size=total)

    category = np.where(
        is_worst,
        rng.choice(len(CATEGORIES), size=total, p=[0.25, 0.2, 0.3, 0.15, 0.1]),
        rng.choice(len(CATEGORIES), size=total, p=[0.3, 0.3, 0.15, 0.15, 0.1]),
    )
    severity = np.where(
        is_worst,
        rng.choice(len(SEVERITIES), size=total, p=[0.15, 0.35, 0.32, 0.18]),
        rng.choice(len(SEVERITIES), size=total, p=[0.30, 0.40, 0.22, 0.08]),
    )
    due = created + SLA_HOURS[severity] * HOUR
    fresh = ago <= 10
    status = np.where(
        fresh,
        rng.choice(len(STATUSES), size=total, p=[0.45, 0.30, 0.20, 0.05]),
        rng.choice(len(STATUSES), size=total, p=[0.03, 0.04, 0.83, 0.10]),
    )

    # The demo manager always has an open critical complaint, already past its deadline.
    demo_worst = plan.demo_picks[T.WORST]
    if len(demo_worst):
        client = np.append(client, demo_worst[0])
        created = np.append(created, -30 * HOUR)
        category = np.append(category, CATEGORIES.index(ComplaintCategory.QUALITY))
        severity = np.append(severity, SEVERITIES.index(Severity.CRITICAL))
        due = np.append(due, -6 * HOUR)
        status = np.append(status, STATUSES.index(ComplaintStatus.OPEN))
        is_worst = np.append(is_worst, True)
        total += 1

    closed = np.isin(
        status, [STATUSES.index(ComplaintStatus.RESOLVED), STATUSES.index(ComplaintStatus.REJECTED)]
    )
    rejected = status == STATUSES.index(ComplaintStatus.REJECTED)
    sla = SLA_HOURS[severity] * HOUR
    took = np.rint(rng.uniform(0.1, 1.4, total) * sla).astype(np.int64)
    resolved = np.clip(created + took, created + 600, -600)
    resolved = np.where(closed, resolved, NO_TIME)
    happy = rng.choice(5, size=total, p=[0.04, 0.08, 0.18, 0.35, 0.35]) + 1
    unhappy = rng.choice(5, size=total, p=[0.30, 0.30, 0.20, 0.15, 0.05]) + 1
    turned_down = rng.choice(4, size=total, p=[0.3, 0.4, 0.2, 0.1])  # 0: no answer given
    satisfaction = np.where(is_worst, unhappy, happy)
    satisfaction = np.where(rejected, turned_down, satisfaction)
    satisfaction = np.where(closed, satisfaction, 0)

    # Escalated: closed ones that overran on high/critical; half of the open overdue ones so far.
    high = severity >= SEVERITIES.index(Severity.HIGH)
    late_closed = closed & (resolved > due + HOUR) & high
    overdue_open = ~closed & (due + HOUR < 0) & (rng.random(total) < 0.5)
    overdue_open[-1] &= not len(demo_worst)  # the demo's critical one waits for the escalation job
    escalated = np.where(late_closed | overdue_open, due + HOUR, NO_TIME)

    text = np.empty(total, dtype=object)
    resolution = np.full(total, None, dtype=object)
    for c, cat in enumerate(CATEGORIES):
        mask = category == c
        pool = np.array(texts.COMPLAINT_TEXTS[cat], dtype=object)
        text[mask] = pool[rng.integers(0, len(pool), size=int(mask.sum()))]
        fixes = np.array(texts.RESOLUTIONS[cat], dtype=object)
        done = mask & closed & ~rejected
        resolution[done] = fixes[rng.integers(0, len(fixes), size=int(done.sum()))]
    refusals = np.array(texts.REJECTIONS, dtype=object)
    resolution[rejected] = refusals[rng.integers(0, len(refusals), size=int(rejected.sum()))]

    order = np.lexsort((created, client))
    return Complaints(
        client=client[order],
        staff=plan.owner[client][order],
        category=category[order],
        severity=severity[order],
        status=status[order],
        text=text[order].tolist(),
        created=created[order],
        due=due[order],
        resolution=resolution[order].tolist(),
        resolved=resolved[order],
        satisfaction=satisfaction[order],
        escalated=escalated[order],
    )


# --- client rows ---------------------------------------------------------------------------------


def _client_rows(
    rng: np.random.Generator, plan: _Plan, staff: list[StaffSpec], created: np.ndarray
) -> Clients:
    n = len(plan.archetype)
    names, emails, tax_ids = _identities(rng, plan.kind)
    for row, (name, _) in zip(plan.awkward.tolist(), N.AWKWARD_NAMES, strict=True):
        names[row] = name
        if emails[row] is not None:
            emails[row] = f"info@{_slug(name)[:24]}.ru"
    emails = _unique_emails(emails)
    return Clients(
        archetype=plan.archetype,
        slipping=plan.slipping,
        kind=plan.kind,
        name=names,
        phone=_phones(rng, n),
        email=emails,
        tax_id=tax_ids,
        external_id=[f"C{i:06d}" for i in range(1, n + 1)],
        owner=plan.owner,
        tags=_tags(rng, plan, staff),
        referred_by=plan.referred_by,
        archived=plan.archived,
        created=created,
    )


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct Russian mobile numbers in E.164, on operator codes that validate."""
    block = 10_000_000
    picked = rng.choice(len(PHONE_PREFIXES) * block, size=n, replace=False)
    prefix = PHONE_PREFIXES[picked // block].tolist()
    return [f"+7{p}{r:07d}" for p, r in zip(prefix, (picked % block).tolist(), strict=True)]


def _inn(rng: np.random.Generator, count: int, digits: int) -> list[str]:
    """Distinct INNs with valid check digits: 10 digits for companies, 12 for individuals."""
    body_digits = digits - 2 - (1 if digits == 10 else 2)
    body = rng.choice(10**body_digits, size=count, replace=False)
    region = INN_REGIONS[rng.integers(0, len(INN_REGIONS), size=count)]
    number = region.astype(np.int64) * 10**body_digits + body
    width = 2 + body_digits
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    matrix = (number[:, None] // powers) % 10
    if digits == 10:
        check = (matrix @ _INN10_WEIGHTS) % 11 % 10
        full = number * 10 + check
    else:
        first = (matrix @ _INN11_WEIGHTS) % 11 % 10
        second = (np.column_stack([matrix, first]) @ _INN12_WEIGHTS) % 11 % 10
        full = number * 100 + first * 10 + second
    return [f"{v:0{digits}d}" for v in full.tolist()]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", N.translit(text))


def _identities(
    rng: np.random.Generator, kind: np.ndarray
) -> tuple[list[str], list[str | None], list[str | None]]:
    """Names, e-mails and tax ids, drawn per kind of client."""
    n = len(kind)
    surname = rng.integers(0, len(N.MALE_SURNAMES), size=n).tolist()
    female = (rng.random(n) < 0.5).tolist()
    first_m = rng.integers(0, len(N.MALE_FIRST), size=n).tolist()
    first_f = rng.integers(0, len(N.FEMALE_FIRST), size=n).tolist()
    patronymic = rng.integers(0, len(N.PATRONYMICS), size=n).tolist()
    root = rng.integers(0, len(N.COMPANY_ROOTS), size=n).tolist()
    suffix = rng.integers(0, len(N.COMPANY_SUFFIXES), size=n).tolist()
    word = rng.integers(0, len(N.COMPANY_WORDS), size=n).tolist()
    style = rng.integers(0, 10, size=n).tolist()
    qualifiers = ("-М", " Плюс", "-Центр", " НН", "-Юг", " 21", " Урал", " Про", "-К", " Север")
    qualifier = rng.integers(0, len(qualifiers) * 2, size=n).tolist()  # half have none
    latin_first = rng.integers(0, len(N.LATIN_FIRST), size=n).tolist()
    latin_last = rng.integers(0, len(N.LATIN_LAST), size=n).tolist()
    latin_word = rng.integers(0, len(N.LATIN_COMPANY_WORDS), size=n).tolist()
    latin_kind = rng.integers(0, len(N.LATIN_COMPANY_KINDS), size=n).tolist()
    latin_form = rng.integers(0, len(N.LATIN_COMPANY_FORMS), size=n).tolist()
    box = rng.integers(0, len(N.COMPANY_EMAIL_BOXES), size=n).tolist()
    domain = rng.integers(0, len(N.PERSON_EMAIL_DOMAINS), size=n).tolist()
    local_style = rng.integers(0, 3, size=n).tolist()
    year = rng.integers(60, 100, size=n).tolist()
    has_email = (rng.random(n) < np.where(np.isin(kind, _LEGAL), 0.85, 0.75)).tolist()
    person_inn = (rng.random(n) < 0.4).tolist()

    kinds = kind.tolist()
    companies = np.isin(kind, (OOO, AO))
    individuals = (kind == IP) | ((kind == PERSON) & np.array(person_inn, dtype=bool))
    inn10 = iter(_inn(rng, int(companies.sum()), 10))
    inn12 = iter(_inn(rng, int(individuals.sum()), 12))

    names: list[str] = []
    emails: list[str | None] = []
    tax_ids: list[str | None] = []
    for i in range(n):
        k = kinds[i]
        email: str | None = None
        tax_id: str | None = None
        if k in (PERSON, IP):
            base = N.MALE_SURNAMES[surname[i]]
            if female[i]:
                last, first, middle = (
                    N.female_surname(base),
                    N.FEMALE_FIRST[first_f[i]],
                    N.PATRONYMICS[patronymic[i]][1],
                )
            else:
                last, first, middle = (
                    base,
                    N.MALE_FIRST[first_m[i]],
                    N.PATRONYMICS[patronymic[i]][0],
                )
            name = f"{last} {first} {middle}"
            if k == IP:
                name = f"ИП {name}"
            if k == IP or person_inn[i]:
                tax_id = next(inn12)
            f_, l_ = N.translit(first), N.translit(last)
            local = (f"{f_}.{l_}", f"{f_[0]}{l_}", f"{l_}{year[i]}")[local_style[i]]
            email = f"{local}@{N.PERSON_EMAIL_DOMAINS[domain[i]]}"
        elif k in (OOO, AO):
            if style[i] < 5:
                brand = N.COMPANY_ROOTS[root[i]] + N.COMPANY_SUFFIXES[suffix[i]].lower()
            elif style[i] < 8:
                brand = f"{N.COMPANY_ROOTS[root[i]]}-{N.COMPANY_SUFFIXES[suffix[i]]}"
            else:
                brand = N.COMPANY_WORDS[word[i]]
            if qualifier[i] < len(qualifiers):
                brand += qualifiers[qualifier[i]]
            name = f"{'ООО' if k == OOO else 'АО'} «{brand}»"
            tax_id = next(inn10)
            email = f"{N.COMPANY_EMAIL_BOXES[box[i]]}@{_slug(brand)}.ru"
        elif k == LATIN_PERSON:
            first, last = N.LATIN_FIRST[latin_first[i]], N.LATIN_LAST[latin_last[i]]
            name = f"{first} {last}"
            email = f"{first}.{last}@{('gmail.com', 'outlook.com')[domain[i] % 2]}".lower()
        else:
            brand = N.LATIN_COMPANY_WORDS[latin_word[i]]
            trade = N.LATIN_COMPANY_KINDS[latin_kind[i]]
            name = f"{brand} {trade} {N.LATIN_COMPANY_FORMS[latin_form[i]]}"
            email = f"{N.COMPANY_EMAIL_BOXES[box[i]]}@{_slug(brand + trade)}.com"
        names.append(name)
        emails.append(email if has_email[i] else None)
        tax_ids.append(tax_id)
    return names, emails, tax_ids


def _unique_emails(emails: list[str | None]) -> list[str | None]:
    """Namesakes get a number in the address, as mail services make them do."""
    seen: set[str] = set()
    result: list[str | None] = []
    for i, email in enumerate(emails):
        if email is not None and email in seen:
            local, _, domain = email.partition("@")
            email = f"{local}{i}@{domain}"
        if email is not None:
            seen.add(email)
        result.append(email)
    return result


def _tags(rng: np.random.Generator, plan: _Plan, staff: list[StaffSpec]) -> list[list[str]]:
    """Tags from a small vocabulary, correlated with what the client is."""
    n = len(plan.archetype)
    code = {t: i for i, t in enumerate(ARCHETYPES)}
    u = rng.random((6, n))
    legal = np.isin(plan.kind, (OOO, AO, IP, LATIN_COMPANY))
    spb = np.array([s.team == TEAMS[1] for s in staff])[plan.owner]
    vip_p = np.select(
        [
            plan.archetype == code[T.BEST],
            plan.archetype == code[T.ADVOCATE],
            plan.archetype == code[T.REGULAR],
        ],
        [0.6, 0.2, 0.05],
        0.0,
    )
    created_days = -plan.created // DAY
    flags = {
        "vip": u[0] < vip_p,
        "wholesale": legal & (u[1] < np.where(plan.amount > 50_000, 0.6, 0.1)),
        "retail": ~legal & (u[1] < np.where(plan.archetype == code[T.SHOPPER], 0.6, 0.4)),
        "moscow": ~spb & (u[2] < 0.6),
        "spb": spb & (u[2] < 0.6),
        "b2b": legal & (u[3] < 0.8),
        "b2c": ~legal & (u[3] < 0.8),
        "новый": ((plan.archetype == code[T.POTENTIAL]) | (created_days < 90)) & (u[4] < 0.8),
    }
    columns = [(tag, mask.tolist()) for tag, mask in flags.items()]
    return [[tag for tag, mask in columns if mask[i]] for i in range(n)]
