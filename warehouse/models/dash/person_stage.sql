-- description: One row per person and stage reached (a spell, or the settlement / trade-certificate milestone): first start, how the last spell on it ended, its place on the ladder and days from settlement (serving table for Kohort and Forløp).
-- unique: person_id, stage
-- not_null: person_id, stage, first_start, rank
-- grain: person
with reached as (
    select
        person_id, stage, min(start_date) as first_start,
        -- the latest spell's end; two spells starting the same day: the later end, then by place
        arg_max(
            end_type,
            (
                start_date, coalesce(end_date, date '9999-12-31'), end_type, source,
                coalesce(school_orgnr, ''), coalesce(municipality_code, '')
            )
        ) as last_end_type
    from marts.stage_spell
    group by 1, 2
    union all
    select person_id, stage, min(event_date), 'completed'
    from core.event
    where (stage = 'settlement' and event_type = 'settled') or (stage = 'trade_certificate' and event_type = 'passed')
    group by 1, 2
),

ladder (stage, rank) as (
    values ('settlement', 0), ('intro', 1), ('norwegian', 2), ('primary', 3), ('combination', 4),
    ('upper_secondary', 5), ('work_training', 6), ('apprenticeship', 7), ('trade_certificate', 8), ('work', 9)
),

final as (
    select r.*, l.rank, r.first_start - f.settlement_date as days_from_settlement, f.* exclude (person_id)
    from reached r
    inner join ladder l using (stage)
    inner join dash.person_filter f using (person_id)
)

select * from final
